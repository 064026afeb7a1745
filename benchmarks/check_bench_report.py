#!/usr/bin/env python3
"""Checks that a bench report is complete and well formed, never what its figures say.

usage: check_bench_report.py DIR

DIR is what bench_report.py wrote. Fails (exit 1, one problem a line, every problem found) when a
file or section is missing, a metric's table lacks a line for an expected row, a cell says
MISSING or is unavailable without a reason, an available row has neither a startup sample nor a
reason, a plot the report shows is absent or not SVG, or the report does not say whether KVM was
real or emulated. Prints "report structure OK: N rows, M metrics" otherwise.
"""
import json
import os
import re
import sys
import xml.etree.ElementTree as ElementTree

# Importing bench_report would otherwise leave a __pycache__ folder in the source tree.
sys.dont_write_bytecode = True
from bench_report import BASELINE_METRICS, BASELINE_ROWS, HEADINGS, PEER_ROWS, REPORT_HEADINGS, SCHEMA, TITLE

SAMPLES_KEYS = ("schema", "environment", "rows", "records", "statistics")
ENVIRONMENT_KEYS = ("kvm", "kernel", "cpu", "cgroup_layout")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+\.svg)\)")
# The summary keeps its cells short: "unavailable [k]", with the reason in note k under the table.
NOTE_REFERENCE = re.compile(r"^unavailable \[(\d+)\]$")
NOTE = re.compile(r"^\s*- \[(\d+)\] (.*\S)")
CELL_SEPARATOR = re.compile(r"(?<!\\)\|")


def read_text(path, problems):
    try:
        with open(path, encoding="utf-8") as source:
            return source.read()
    except OSError as error:
        problems.append(
            f"{path}: cannot read it ({error.strerror}); run bench_report.py into this folder first"
        )
    except UnicodeDecodeError:
        problems.append(f"{path}: not UTF-8 text")
    return None


def load_samples(folder, problems):
    path = os.path.join(folder, "samples.json")
    text = read_text(path, problems)
    if text is None:
        return None
    try:
        samples = json.loads(text)
    except json.JSONDecodeError as error:
        problems.append(f"{path}: not JSON ({error.msg}, line {error.lineno})")
        return None
    if not isinstance(samples, dict):
        problems.append(f"{path}: not a JSON object")
        return None
    problems += [f'{path}: no "{key}"' for key in SAMPLES_KEYS if key not in samples]
    if "schema" in samples and samples["schema"] != SCHEMA:
        problems.append(f"{path}: schema is {samples['schema']!r}, not {SCHEMA!r}")
    environment = samples.get("environment")
    if not isinstance(environment, dict):
        problems.append(f'{path}: "environment" is not an object')
    else:
        problems += [
            f'{path}: the environment has no "{key}"' for key in ENVIRONMENT_KEYS if key not in environment
        ]
    for key in ("rows", "records"):
        if not isinstance(samples.get(key, []), list):
            problems.append(f'{path}: "{key}" is not a list')
    return samples


def listed(samples, key):
    values = samples.get(key) if samples else None
    return [item for item in values if isinstance(item, dict)] if isinstance(values, list) else []


def is_emulated(samples):
    environment = samples.get("environment") if samples else None
    return isinstance(environment, dict) and environment.get("kvm") == "emulated"


def extra_rows(samples):
    """Rows in the records beyond the expected ones, each with whether it is a baseline."""
    levels = {record.get("row"): record.get("level") for record in listed(samples, "rows")}
    extras = {}
    for record in listed(samples, "rows") + listed(samples, "records"):
        row = record.get("row")
        if isinstance(row, str) and row and row not in PEER_ROWS + BASELINE_ROWS:
            extras[row] = levels.get(row) == "baseline"
    return extras


def expected_rows(samples, metric):
    extras = extra_rows(samples)
    rows = list(PEER_ROWS) + [row for row, baseline in extras.items() if not baseline]
    if metric in BASELINE_METRICS:
        rows += ["host"] + (["kvm-host"] if is_emulated(samples) else [])
        rows += [row for row, baseline in extras.items() if baseline]
    return rows


def split_sections(text):
    """The lines under each "## " heading, by heading."""
    sections, current = {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return sections


def cells(line):
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.strip() for cell in CELL_SEPARATOR.split(inner)]


def tables(lines):
    """Each markdown table's data lines, as cells; header and separator left out."""
    found, block = [], []
    for line in lines + [""]:
        if line.lstrip().startswith("|"):
            block.append(line)
            continue
        if len(block) >= 2:
            found.append([cells(row) for row in block[2:]])
        block = []
    return found


def first_column(lines):
    found = tables(lines)
    return {row[0].strip("`") for row in found[0]} if found else set()


def check_headings(text, sections, problems):
    if not text.startswith(TITLE):
        problems.append(f'report.md: does not open with the title "{TITLE}"')
    problems += [
        f'report.md: no section "## {heading}"' for heading in REPORT_HEADINGS if heading not in sections
    ]


def check_row_lines(sections, heading, rows, problems):
    """The section's first table has a line for each row."""
    if heading not in sections:
        return
    present = first_column(sections[heading])
    if not present:
        problems.append(f"report.md, {heading}: no table")
        return
    problems += [
        f"report.md, {heading}: the table has no line for {row}" for row in rows if row not in present
    ]


def check_row_tables(sections, samples, problems):
    for metric, heading in HEADINGS.items():
        check_row_lines(sections, heading, expected_rows(samples, metric), problems)
    check_row_lines(sections, "Summary", expected_rows(samples, "startup"), problems)


def check_cells(sections, problems):
    for heading, lines in sections.items():
        notes = {match.group(1) for match in map(NOTE.match, lines) if match}
        for table in tables(lines):
            for row in table:
                for cell in row:
                    problem = cell_problem(cell, notes)
                    if problem:
                        problems.append(f"report.md, {heading}, line for {row[0]}: {problem}")


def cell_problem(cell, notes):
    if "MISSING" in cell:
        return "a cell says MISSING: neither figures nor a recorded reason"
    if not cell.startswith("unavailable"):
        return None
    reference = NOTE_REFERENCE.match(cell)
    if reference:
        return None if reference.group(1) in notes else f'"{cell}" points to no note under the table'
    if not re.match(r"^unavailable: *\S", cell):
        return f'"{cell}" gives no reason'
    return None


def is_baseline(record):
    return record.get("row") in BASELINE_ROWS or record.get("level") == "baseline"


def check_startup_coverage(samples, problems):
    """Every available row was at least started, or the records say why not. Baselines run only
    the cpu and io workloads, so they have no startup to show."""
    covered = {
        record.get("row")
        for record in listed(samples, "records")
        if record.get("metric") == "startup" and record.get("type") in ("sample", "unavailable")
    }
    for record in listed(samples, "rows"):
        row = record.get("row")
        if record.get("available") is not False and not is_baseline(record) and row not in covered:
            problems.append(
                f"samples.json: {row} is available but has no startup sample and no reason why not"
            )


def check_images(folder, text, problems):
    for file in dict.fromkeys(IMAGE.findall(text)):
        path = os.path.join(folder, file)
        if not os.path.isfile(path):
            problems.append(f"{path}: the report shows this plot but the file is not there")
            continue
        try:
            root = ElementTree.parse(path).getroot()
        except ElementTree.ParseError as error:
            problems.append(f"{path}: not well-formed XML ({error})")
            continue
        if not root.tag.endswith("svg"):
            problems.append(f"{path}: the root element is <{root.tag}>, not <svg>")


def check_kvm(sections, samples, problems):
    said = None
    for row in [row for table in tables(sections.get("Environment", [])) for row in table]:
        if row[0] == "KVM" and len(row) > 1:
            said = next((word for word in ("real", "emulated") if row[1].startswith(word)), None)
    if said is None:
        problems.append('report.md, Environment: no KVM line saying "real" or "emulated"')
        return
    recorded = samples.get("environment", {}).get("kvm") if samples else None
    if isinstance(recorded, str) and recorded != said:
        problems.append(
            f"report.md, Environment: says KVM was {said}, samples.json's environment says {recorded}"
        )


def check(folder):
    problems = []
    samples = load_samples(folder, problems)
    text = read_text(os.path.join(folder, "report.md"), problems)
    if samples is not None:
        check_startup_coverage(samples, problems)
    if text is not None:
        sections = split_sections(text)
        check_headings(text, sections, problems)
        check_row_tables(sections, samples, problems)
        check_cells(sections, problems)
        check_images(folder, text, problems)
        check_kvm(sections, samples, problems)
    return problems, samples


def main():
    if len(sys.argv) != 2:
        print("usage: check_bench_report.py DIR (the folder bench_report.py wrote)", file=sys.stderr)
        return 2
    folder = sys.argv[1]
    problems, samples = check(folder)
    # A line with several bad cells would otherwise repeat the same problem once a cell.
    problems = list(dict.fromkeys(problems))
    if problems:
        print("\n".join(problems))
        print(f"report structure: {len(problems)} problem(s) in {folder}", file=sys.stderr)
        return 1
    rows = {row for metric in HEADINGS for row in expected_rows(samples, metric)}
    print(f"report structure OK: {len(rows)} rows, {len(HEADINGS)} metrics")
    return 0


if __name__ == "__main__":
    sys.exit(main())

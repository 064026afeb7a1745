#!/usr/bin/env python3
"""Turns the JSON-lines records of `tandem bench` into a report a class can read.

usage: bench_report.py --records FILE.jsonl --output DIR

Writes into DIR:
  report.md     containers, microVMs and full VMs side by side: one section per metric, each with
                what is measured, a table, a plot, ratios against the peers and what it means;
  *.svg         one plot per figure, rendered by gnuplot;
  samples.json  every raw record, the statistics and the ratios, to check or redo the report.

A table cell with neither figures nor a recorded reason says MISSING: the report is still written
(exit 0) and check_bench_report.py fails on it. Exit 1 on unreadable or malformed records, a
missing environment record, or a gnuplot failure.

The startup phases are a metric of their own, "startup_phases": they come from the "phases_ms" of
startup samples or of startup_phases samples (which may carry "total_ms", the same runs' own
launch-to-exit time), and an unavailable record for them names that metric (one for "startup"
covers the phases too). samples.json's statistics are keyed statistics[metric][row][field], where
field is a sample's field, a phase name or "total_ms" (startup_phases) or "FIELD n=N" (density).
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field

SCHEMA = "tandem-bench/1"

CONTAINER_ROWS = ("tandem-container", "runc", "crun", "bwrap")
VM_ROWS = ("tandem-microvm", "qemu-microvm", "libvirt-vm")
PEER_ROWS = CONTAINER_ROWS + VM_ROWS
BASELINE_ROWS = ("host", "kvm-host")
# Levels of the expected rows, for a row whose record is missing or names none.
DEFAULT_LEVELS = {
    **{row: "container" for row in CONTAINER_ROWS},
    "tandem-microvm": "microvm",
    "qemu-microvm": "microvm",
    "libvirt-vm": "full-vm",
    **{row: "baseline" for row in BASELINE_ROWS},
}
VM_LEVELS = ("microvm", "full-vm")
# How the sentences and plots group the rows: a plural noun and the levels it covers.
LEVEL_GROUPS = (("containers", ("container",)), ("VMs", VM_LEVELS))
RATIO_PAIRS = (
    ("tandem-container", "runc"),
    ("tandem-container", "crun"),
    ("tandem-container", "bwrap"),
    ("tandem-microvm", "qemu-microvm"),
    ("tandem-microvm", "libvirt-vm"),
    ("tandem-microvm", "tandem-container"),
)

METRICS = ("startup", "startup_phases", "memory", "density", "cpu", "io")
HEADINGS = {
    "startup": "Startup",
    "startup_phases": "Startup phases",
    "memory": "Memory per workload",
    "density": "Density",
    "cpu": "CPU overhead",
    "io": "I/O throughput",
}
TITLE = "# tandem bench: containers, microVMs and full VMs, measured"
# The "## " sections of report.md, in order; check_bench_report.py requires each.
REPORT_HEADINGS = ("Environment", "Summary", *HEADINGS.values(), "Method and caveats")
# Only these metrics compare rows against a baseline, so only their tables list the baselines.
BASELINE_METRICS = ("cpu", "io")
PLOTS = {
    "startup": ("startup.svg",),
    "startup_phases": ("startup-phases.svg",),
    "memory": ("memory.svg",),
    "density": ("density-memory.svg", "density-startup.svg"),
    "cpu": ("cpu.svg",),
    "io": ("io.svg",),
}

# The launch-to-exit time a startup_phases sample may carry beside its phases.
PHASES_TOTAL = "total_ms"
# A startup sample's time from launch to the workload's first instruction, beside its exit_ms.
FIRST_INSTRUCTION = "first_instruction_ms"
# Density's memory figure: the PSS of every process of the n workloads, steady where the
# host's count of memory in use (host_memory_bytes, kept beside it) moves with other activity.
DENSITY_MEMORY = "processes_pss_bytes"
SAMPLE_FIELDS = {
    "startup": (FIRST_INSTRUCTION, "exit_ms"),
    "memory": (
        "runtime_rss_bytes",
        "runtime_pss_bytes",
        "workload_rss_bytes",
        "workload_pss_bytes",
        "guest_touched_bytes",
        "page_cache_shared_bytes",
    ),
    "density": ("processes_pss_bytes", "host_memory_bytes", "start_ms"),
    "cpu": ("loop_ms",),
    "io": ("write_mib_s", "read_mib_s"),
    "startup_phases": (PHASES_TOTAL,),
}
# A row with samples but without one of these fields gets a MISSING line: the sample is incomplete.
REQUIRED_FIELDS = {
    "startup": ("exit_ms",),
    "density": (DENSITY_MEMORY, "start_ms"),
    "cpu": ("loop_ms",),
    "io": ("write_mib_s", "read_mib_s"),
}
MEMORY_REQUIRED = {
    "container": ("runtime_rss_bytes", "runtime_pss_bytes", "workload_rss_bytes", "workload_pss_bytes"),
    "microvm": ("runtime_rss_bytes", "runtime_pss_bytes", "guest_touched_bytes"),
    "full-vm": ("runtime_rss_bytes", "runtime_pss_bytes", "guest_touched_bytes"),
}
FIELD_LABELS = {
    "exit_ms": "launch to exit",
    PHASES_TOTAL: "total, the same runs",
    FIRST_INSTRUCTION: "launch to the workload's first instruction",
    "runtime_rss_bytes": "runtime RSS",
    "runtime_pss_bytes": "runtime PSS",
    "workload_rss_bytes": "workload RSS",
    "workload_pss_bytes": "workload PSS",
    "guest_touched_bytes": "guest RAM touched",
    "page_cache_shared_bytes": "page cache mapped (shared)",
    "host_memory_bytes": "host memory",
    "processes_pss_bytes": "PSS of their processes",
    "start_ms": "start time",
    "loop_ms": "compute loop",
    "write_mib_s": "sequential write",
    "read_mib_s": "sequential read",
}

PLOT_SIZE = (800, 450)


def terminal(size):
    return f"set terminal svg size {size[0]},{size[1]} dynamic enhanced font 'sans,11'"
LEVEL_COLORS = {"container": "#1f77b4", "microvm": "#ff7f0e", "full-vm": "#d62728", "baseline": "#7f7f7f"}
OTHER_LEVEL_COLOR = "#2ca02c"
# Past this max/min spread a linear axis squeezes the containers' bars to nothing beside the VMs'.
LOG_SCALE_SPREAD = 20
NEAR_NATIVE_PERCENT = 5.0
FLAT_START_PERCENT = 20.0

EMULATED_KVM_TEXT = (
    "emulated: the VM rows ran inside the emulated KVM host (QEMU TCG with SVM), so their "
    "absolute times are far slower than on real KVM; compare ratios"
)


class BenchError(Exception):
    """A problem with the records or with gnuplot, worded for whoever ran the report."""


@dataclass(frozen=True)
class Unavailable:
    reason: str


MISSING = "MISSING"
DATA = "data"


# ---------------------------------------------------------------------------------------------
# Reading the records


@dataclass
class Records:
    path: str
    environment: dict | None = None
    environment_line: int = 0
    rows: dict = field(default_factory=dict)
    row_lines: dict = field(default_factory=dict)
    samples: dict = field(default_factory=dict)  # metric -> row -> [sample]
    unavailable: dict = field(default_factory=dict)  # (metric, row) -> reason
    raw: list = field(default_factory=list)
    rows_seen: list = field(default_factory=list)

    def where(self, line):
        return f"{self.path}, line {line}"

    def see_row(self, row):
        if row not in self.rows_seen:
            self.rows_seen.append(row)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def required_text(records, record, key, line):
    value = record.get(key)
    if not isinstance(value, str) or not value:
        raise BenchError(
            f"{records.where(line)}: a {record['type']} record needs \"{key}\" as a non-empty string"
        )
    return value


def check_sample_fields(records, sample, line):
    metric = sample["metric"]
    for name in SAMPLE_FIELDS.get(metric, ()):
        if name in sample and not is_number(sample[name]):
            raise BenchError(f'{records.where(line)}: {metric} sample field "{name}" is not a number')
    if metric in ("startup", "startup_phases") and "phases_ms" in sample:
        phases = sample["phases_ms"]
        if not isinstance(phases, dict) or not all(is_number(ms) for ms in phases.values()):
            raise BenchError(
                f'{records.where(line)}: "phases_ms" must be an object of phase name -> milliseconds'
            )
    if metric == "density":
        n = sample.get("n")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise BenchError(f'{records.where(line)}: a density sample needs "n" as an integer from 1 up')


def warn(message):
    print(f"bench_report: {message}", file=sys.stderr)


def add_environment(records, record, line):
    if records.environment is not None:
        raise BenchError(
            f"{records.where(line)}: a second environment record "
            f"(the first is on line {records.environment_line}); a records file holds one run"
        )
    records.environment = record
    records.environment_line = line


def add_row(records, record, line):
    row = required_text(records, record, "row", line)
    if row in records.rows:
        raise BenchError(
            f'{records.where(line)}: a second row record for "{row}" '
            f"(the first is on line {records.row_lines[row]})"
        )
    records.rows[row] = record
    records.row_lines[row] = line
    records.see_row(row)


def add_sample(records, record, line):
    metric = required_text(records, record, "metric", line)
    row = required_text(records, record, "row", line)
    if metric not in SAMPLE_FIELDS:
        warn(f'{records.where(line)}: no section shows metric "{metric}"; kept in samples.json only')
        return
    check_sample_fields(records, record, line)
    records.samples.setdefault(metric, {}).setdefault(row, []).append(record)
    records.see_row(row)


def add_unavailable(records, record, line):
    metric = required_text(records, record, "metric", line)
    row = required_text(records, record, "row", line)
    if metric not in METRICS:
        warn(f'{records.where(line)}: no section shows metric "{metric}"; kept in samples.json only')
        return
    # An empty or absent reason stays empty: the report shows it as such and the check fails on it.
    reason = record.get("reason")
    records.unavailable[(metric, row)] = reason.strip() if isinstance(reason, str) else ""
    records.see_row(row)


RECORD_READERS = {
    "environment": add_environment,
    "row": add_row,
    "sample": add_sample,
    "unavailable": add_unavailable,
}


def parse_line(records, text, line):
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise BenchError(
            f"{records.where(line)}: not JSON ({error.msg} at column {error.colno}); "
            "each line must be one JSON object"
        ) from None
    if not isinstance(record, dict):
        raise BenchError(f"{records.where(line)}: a record must be a JSON object")
    kind = record.get("type")
    if not isinstance(kind, str):
        raise BenchError(f'{records.where(line)}: a record needs a "type" string')
    records.raw.append(record)
    reader = RECORD_READERS.get(kind)
    if reader is None:
        warn(f'{records.where(line)}: unknown record type "{kind}"; kept in samples.json only')
    else:
        reader(records, record, line)


def read_records(path):
    try:
        with open(path, encoding="utf-8") as source:
            lines = source.read().splitlines()
    except OSError as error:
        raise BenchError(
            f"cannot read the records file {path}: {error.strerror}; "
            "pass the JSON-lines file that `tandem bench` wrote"
        ) from None
    except UnicodeDecodeError as error:
        raise BenchError(f"{path} is not UTF-8 text ({error.reason}); is it the records file?") from None
    records = Records(path)
    for number, text in enumerate(lines, 1):
        if text.strip():
            parse_line(records, text, number)
    if records.environment is None:
        raise BenchError(
            f"{path} has no environment record; every run of `tandem bench` writes one first, "
            "so the file is truncated or not a bench records file"
        )
    return records


# ---------------------------------------------------------------------------------------------
# Statistics


def summarize(values):
    """n, median, extremes and quartiles (the linear, inclusive method) of the samples."""
    ordered = sorted(values)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "q1": q1,
        "q3": q3,
    }


def field_statistics(samples, fields):
    out = {}
    for name in fields:
        values = [sample[name] for sample in samples if name in sample]
        if values:
            out[name] = summarize(values)
    return out


def phase_statistics(samples):
    values = {}
    for sample in samples:
        for phase, ms in sample.get("phases_ms", {}).items():
            values.setdefault(phase, []).append(ms)
    return {phase: summarize(ms) for phase, ms in values.items()}


def density_key(name, n):
    return f"{name} n={n}"


def density_statistics(samples):
    out = {}
    for n in sorted({sample["n"] for sample in samples}):
        at_n = [sample for sample in samples if sample["n"] == n]
        for name, summary in field_statistics(at_n, SAMPLE_FIELDS["density"]).items():
            out[density_key(name, n)] = summary
    return out


def phases_and_total(samples):
    with_phases = [sample for sample in samples if sample.get("phases_ms")]
    summaries = phase_statistics(with_phases)
    totals = field_statistics(with_phases, SAMPLE_FIELDS["startup_phases"])
    return {**summaries, **totals} if summaries else {}


def row_statistics(metric, samples):
    if metric == "startup_phases":
        return phases_and_total(samples)
    if metric == "density":
        return density_statistics(samples)
    return field_statistics(samples, SAMPLE_FIELDS[metric])


def metric_samples(records, metric):
    """Each row's samples for a metric; the phases come from startup samples too."""
    if metric != "startup_phases":
        return records.samples.get(metric, {})
    merged = {}
    for source in ("startup", "startup_phases"):
        for row, samples in records.samples.get(source, {}).items():
            merged.setdefault(row, []).extend(samples)
    return merged


def metric_statistics(records, metric):
    per_row = {}
    for row, samples in metric_samples(records, metric).items():
        summaries = row_statistics(metric, samples)
        if summaries:
            per_row[row] = summaries
    return per_row


# ---------------------------------------------------------------------------------------------
# The run as the report sees it: rows, levels, baselines, each cell's status


class Bench:
    def __init__(self, records):
        self.records = records
        self.environment = records.environment
        self.emulated = self.environment.get("kvm") == "emulated"
        self.statistics = {metric: metric_statistics(records, metric) for metric in METRICS}

    def all_rows(self):
        expected = list(PEER_ROWS) + ["host"] + (["kvm-host"] if self.emulated else [])
        return expected + [row for row in self.records.rows_seen if row not in expected]

    def level(self, row):
        recorded = self.records.rows.get(row, {}).get("level")
        return recorded if isinstance(recorded, str) and recorded else DEFAULT_LEVELS.get(row, "other")

    def label(self, row):
        recorded = self.records.rows.get(row, {}).get("label")
        return recorded if isinstance(recorded, str) and recorded else row

    def is_baseline(self, row):
        return row in BASELINE_ROWS or self.level(row) == "baseline"

    def rows_for(self, metric):
        if metric in BASELINE_METRICS:
            return self.all_rows()
        return [row for row in self.all_rows() if not self.is_baseline(row)]

    def peer_rows(self):
        return self.rows_for("startup")

    def baseline_of(self, row):
        if self.is_baseline(row):
            return None
        if self.level(row) in VM_LEVELS and self.emulated:
            return "kvm-host"
        return "host"

    def status(self, metric, row):
        if row in self.statistics[metric]:
            return DATA
        record = self.records.rows.get(row)
        if record is not None and record.get("available") is False:
            reason = record.get("reason")
            return Unavailable(reason.strip() if isinstance(reason, str) else "")
        unavailable = self.records.unavailable
        reason = unavailable.get((metric, row))
        if reason is None and metric == "startup_phases":
            reason = unavailable.get(("startup", row))
        return MISSING if reason is None else Unavailable(reason)

    def summary(self, metric, row, key):
        return self.statistics[metric].get(row, {}).get(key)

    def median(self, metric, row, key):
        summary = self.summary(metric, row, key)
        return None if summary is None else summary["median"]

    def phase_medians(self, row):
        """(phase, median ms) of a row, in the order the records name them; the total left out."""
        phases = self.statistics["startup_phases"].get(row, {})
        return [
            (phase, summary["median"])
            for phase, summary in phases.items()
            if phase not in SAMPLE_FIELDS["startup_phases"]
        ]

    def density_ns(self, row):
        samples = self.records.samples.get("density", {}).get(row, [])
        return sorted({sample["n"] for sample in samples})

    def overhead_percent(self, row, key, metric):
        """How much longer (cpu) or faster (io) the row ran than its baseline, in percent."""
        base = self.baseline_of(row)
        value, reference = self.median(metric, row, key), self.median(metric, base, key)
        if value is None or reference is None or reference == 0:
            return None
        return (value / reference - 1) * 100

    def memory_required(self, row):
        return MEMORY_REQUIRED.get(self.level(row), ("runtime_rss_bytes",))

    def required_fields(self, metric, row):
        return self.memory_required(row) if metric == "memory" else REQUIRED_FIELDS[metric]

    def footprint_bytes(self, row):
        """Runtime PSS plus the workload's PSS (container) or the guest's touched RAM (VM)."""
        runtime = self.median("memory", row, "runtime_pss_bytes")
        workload = self.median("memory", row, self.workload_memory_field(row))
        return None if runtime is None or workload is None else runtime + workload

    def workload_memory_field(self, row):
        return "guest_touched_bytes" if self.level(row) in VM_LEVELS else "workload_pss_bytes"

    def per_workload_bytes(self, row, n):
        total = self.median("density", row, density_key(DENSITY_MEMORY, n))
        return None if total is None else total / n

    def memory_slope_bytes(self, row):
        """Least-squares memory added per workload, over the medians at each n."""
        points = [
            (n, self.median("density", row, density_key(DENSITY_MEMORY, n)))
            for n in self.density_ns(row)
        ]
        points = [(n, value) for n, value in points if value is not None]
        if len(points) < 2:
            return None
        mean_n = statistics.fmean(n for n, _ in points)
        mean_v = statistics.fmean(v for _, v in points)
        spread = sum((n - mean_n) ** 2 for n, _ in points)
        return sum((n - mean_n) * (v - mean_v) for n, v in points) / spread


# ---------------------------------------------------------------------------------------------
# Formatting figures


def fmt_ms(ms):
    return f"{ms:.2f}" if abs(ms) < 10 else f"{ms:.1f}"


def fmt_mib(nbytes):
    return f"{nbytes / 2**20:.2f}"


def fmt_rate(mib_s):
    return f"{mib_s:.1f}"


def fmt_percent(percent):
    return f"{percent:+.1f} %"


def fmt_ratio(ratio):
    if ratio >= 10:
        return f"{ratio:.1f}×"
    return f"{ratio:.2f}×" if ratio >= 0.1 else f"{ratio:.3f}×"


def formatter(key):
    """The format and unit of a field, phase or density key, read from its name."""
    name = key.split(" n=")[0]
    if name.endswith("_bytes"):
        return fmt_mib, "MiB"
    if name.endswith("_mib_s"):
        return fmt_rate, "MiB/s"
    return fmt_ms, "ms"


def with_unit(key, value):
    fmt, unit = formatter(key)
    return f"{fmt(value)} {unit}"


def stat_cells(key, summary):
    fmt, _ = formatter(key)
    return [
        str(summary["n"]),
        fmt(summary["median"]),
        f"{fmt(summary['min'])}–{fmt(summary['max'])}",
        f"{fmt(summary['q1'])}–{fmt(summary['q3'])}",
    ]


def status_cell(status):
    if status == MISSING:
        return MISSING
    return f"unavailable: {status.reason}"


def markdown_table(header, rows):
    def line(cells):
        cleaned = [str(cell).replace("|", "\\|").replace("\n", " ") for cell in cells]
        return "| " + " | ".join(cleaned) + " |"

    width = len(header)
    return [line(header), "|" + "---|" * width] + [line(row + [""] * (width - len(row))) for row in rows]


def env_text(environment, key):
    value = environment.get(key)
    return MISSING if value in (None, "") else str(value)


# ---------------------------------------------------------------------------------------------
# Tables, one per metric: a line per row, or per row and quantity


def status_lines(bench, metric, row, lead):
    """The lines of a row without figures: unavailable with its reason, or MISSING."""
    return [[row, *lead, status_cell(bench.status(metric, row))]]


def field_lines(bench, metric, row, keys, lead, extra=lambda key: []):
    lines = []
    for key in keys:
        summary = bench.summary(metric, row, key)
        if summary is not None:
            lines.append([row, *lead, FIELD_LABELS.get(key, key), *stat_cells(key, summary), *extra(key)])
        elif key in bench.required_fields(metric, row):
            lines.append([row, *lead, FIELD_LABELS.get(key, key), MISSING])
    return lines


def quantity_table(bench, metric, unit):
    """One line per row and quantity of `metric` (startup, memory): its statistics, or why not."""
    header = ["row", "level", "quantity", "n", f"median ({unit})", "min–max", "q1–q3"]
    lines = []
    for row in bench.rows_for(metric):
        lead = [bench.level(row)]
        if bench.status(metric, row) != DATA:
            lines += status_lines(bench, metric, row, lead)
        else:
            lines += field_lines(bench, metric, row, SAMPLE_FIELDS[metric], lead)
    return markdown_table(header, lines)


def startup_table(bench):
    return quantity_table(bench, "startup", "ms")


def phases_table(bench):
    header = ["row", "level", "phase", "n", "median (ms)", "min–max", "q1–q3"]
    lines = []
    for row in bench.rows_for("startup_phases"):
        lead = [bench.level(row)]
        if bench.status("startup_phases", row) != DATA:
            lines += status_lines(bench, "startup_phases", row, lead)
            continue
        for phase, summary in bench.statistics["startup_phases"][row].items():
            lines.append([row, *lead, FIELD_LABELS.get(phase, phase), *stat_cells(phase, summary)])
    return markdown_table(header, lines)


def memory_table(bench):
    return quantity_table(bench, "memory", "MiB")


def density_table(bench):
    header = [
        "row",
        "workloads (n)",
        "runs",
        "PSS of their processes (MiB)",
        "min–max",
        "q1–q3",
        "per workload (MiB)",
        "start time (ms)",
        "min–max",
        "q1–q3",
    ]
    lines = []
    for row in bench.rows_for("density"):
        if bench.status("density", row) != DATA:
            lines += status_lines(bench, "density", row, [])
            continue
        for n in bench.density_ns(row):
            lines.append([row, str(n), *density_cells(bench, row, n)])
    return markdown_table(header, lines)


def density_cells(bench, row, n):
    """Runs, memory (median, spreads, per workload) and start time of one row at one n."""
    memory = bench.summary("density", row, density_key(DENSITY_MEMORY, n))
    start = bench.summary("density", row, density_key("start_ms", n))
    runs = max(summary["n"] for summary in (memory, start) if summary)
    if memory:
        memory_cells = [*stat_cells(DENSITY_MEMORY, memory)[1:], fmt_mib(memory["median"] / n)]
    else:
        memory_cells = [MISSING] * 4
    start_cells = stat_cells("start_ms", start)[1:] if start else [MISSING] * 3
    return [str(runs), *memory_cells, *start_cells]


def baseline_cells(bench, metric, row, key):
    """The baseline a row is measured against and how far from it the row is."""
    base = bench.baseline_of(row)
    if base is None:
        return ["—", "—"]
    base_status = bench.status(metric, base)
    if base_status == MISSING:
        return [base, MISSING]
    if isinstance(base_status, Unavailable):
        return [base, f"unavailable: {base} has no figure ({base_status.reason})"]
    overhead = bench.overhead_percent(row, key, metric)
    return [base, MISSING if overhead is None else fmt_percent(overhead)]


def cpu_table(bench):
    header = ["row", "level", "quantity", "n", "median (ms)", "min–max", "q1–q3", "baseline", "overhead"]
    lines = []
    for row in bench.rows_for("cpu"):
        lead = [bench.level(row)]
        if bench.status("cpu", row) != DATA:
            lines += status_lines(bench, "cpu", row, lead)
        else:
            lines += field_lines(
                bench,
                "cpu",
                row,
                SAMPLE_FIELDS["cpu"],
                lead,
                lambda key: baseline_cells(bench, "cpu", row, key),
            )
    return markdown_table(header, lines)


def io_table(bench):
    header = [
        "row",
        "level",
        "quantity",
        "n",
        "median (MiB/s)",
        "min–max",
        "q1–q3",
        "baseline",
        "against baseline",
    ]
    lines = []
    for row in bench.rows_for("io"):
        lead = [bench.level(row)]
        if bench.status("io", row) != DATA:
            lines += status_lines(bench, "io", row, lead)
        else:
            lines += field_lines(
                bench, "io", row, SAMPLE_FIELDS["io"], lead, lambda key: baseline_cells(bench, "io", row, key)
            )
    return markdown_table(header, lines)


TABLES = {
    "startup": startup_table,
    "startup_phases": phases_table,
    "memory": memory_table,
    "density": density_table,
    "cpu": cpu_table,
    "io": io_table,
}


# ---------------------------------------------------------------------------------------------
# Ratios against the peers, from medians


@dataclass
class Ratio:
    metric: str
    quantity: str
    row: str
    against: str
    row_value: float
    against_value: float
    key: str  # the field, phase or density key the medians are of, which sets their unit

    def value(self):
        return self.row_value / self.against_value

    def to_json(self):
        return {
            "metric": self.metric,
            "quantity": self.quantity,
            "row": self.row,
            "against": self.against,
            "row_median": self.row_value,
            "against_median": self.against_value,
            "field": self.key,
            "ratio": self.value(),
        }


def median_pairs(bench, metric, row, against, keys):
    for key in keys:
        yield FIELD_LABELS.get(key, key), bench.median(metric, row, key), bench.median(
            metric, against, key
        ), key


def startup_pairs(bench, row, against):
    yield from median_pairs(bench, "startup", row, against, (FIRST_INSTRUCTION, "exit_ms"))


def phase_pairs(bench, row, against):
    theirs = {phase for phase, _ in bench.phase_medians(against)}
    shared = [phase for phase, _ in bench.phase_medians(row) if phase in theirs]
    yield from median_pairs(bench, "startup_phases", row, against, shared)


def memory_pairs(bench, row, against):
    yield from median_pairs(bench, "memory", row, against, ("runtime_rss_bytes",))
    yield (
        "runtime PSS + workload PSS or guest RAM",
        bench.footprint_bytes(row),
        bench.footprint_bytes(against),
        "runtime_pss_bytes",
    )


def density_pairs(bench, row, against):
    shared = sorted(set(bench.density_ns(row)) & set(bench.density_ns(against)))
    if not shared:
        return
    n = shared[-1]
    yield (
        f"memory per workload at n={n}",
        bench.per_workload_bytes(row, n),
        bench.per_workload_bytes(against, n),
        DENSITY_MEMORY,
    )
    key = density_key("start_ms", n)
    yield f"start time at n={n}", bench.median("density", row, key), bench.median(
        "density", against, key
    ), key


def cpu_pairs(bench, row, against):
    yield from median_pairs(bench, "cpu", row, against, ("loop_ms",))


def io_pairs(bench, row, against):
    yield from median_pairs(bench, "io", row, against, SAMPLE_FIELDS["io"])


RATIO_QUANTITIES = {
    "startup": startup_pairs,
    "startup_phases": phase_pairs,
    "memory": memory_pairs,
    "density": density_pairs,
    "cpu": cpu_pairs,
    "io": io_pairs,
}
RATIO_READING = {
    "startup": "below 1× is faster",
    "startup_phases": "below 1× is faster",
    "memory": "below 1× takes less memory",
    "density": "below 1× is less memory or a faster start",
    "cpu": "below 1× is faster",
    "io": "above 1× moves more data per second",
}


def metric_ratios(bench, metric):
    ratios = []
    for row, against in RATIO_PAIRS:
        for quantity, a, b, key in RATIO_QUANTITIES[metric](bench, row, against):
            if a is not None and b is not None and b != 0:
                ratios.append(Ratio(metric, quantity, row, against, a, b, key))
    return ratios


def ratio_lines(ratios, metric):
    if not ratios:
        return ["Ratios: none, since no pair of peers both have figures here."]
    lines = [f"Ratios of the medians ({RATIO_READING[metric]}):", ""]
    for ratio in ratios:
        lines.append(
            f"- {ratio.row} against {ratio.against}, {ratio.quantity}: **{fmt_ratio(ratio.value())}** "
            f"({with_unit(ratio.key, ratio.row_value)} against {with_unit(ratio.key, ratio.against_value)})"
        )
    return lines


# ---------------------------------------------------------------------------------------------
# "What this means": plain sentences computed from the figures


def named_medians(bench, metric, rows, key):
    return [
        (row, bench.median(metric, row, key)) for row in rows if bench.median(metric, row, key) is not None
    ]


def missing_names(bench, metric, rows, key):
    return " and ".join(row for row in rows if bench.median(metric, row, key) is None)


def emulation_factor(bench):
    """How many times longer the compute loop took inside the emulated KVM host than on this host."""
    host, nested = bench.median("cpu", "host", "loop_ms"), bench.median("cpu", "kvm-host", "loop_ms")
    if not bench.emulated or host is None or nested is None or host == 0:
        return None
    return nested / host


def level_rows(bench, levels):
    return [row for row in bench.peer_rows() if bench.level(row) in levels]


def extremes_sentence(bench, metric, rows, key, noun):
    figures = named_medians(bench, metric, rows, key)
    if len(figures) < 2:
        return ""
    fastest = min(figures, key=lambda item: item[1])
    slowest = max(figures, key=lambda item: item[1])
    return (
        f"Among the {noun}, {fastest[0]} was fastest ({with_unit(key, fastest[1])}) and "
        f"{slowest[0]} slowest ({with_unit(key, slowest[1])}). "
    )


def startup_meaning(bench):
    container = bench.median("startup", "tandem-container", "exit_ms")
    microvm = bench.median("startup", "tandem-microvm", "exit_ms")
    if container is None or microvm is None:
        absent = missing_names(bench, "startup", ("tandem-container", "tandem-microvm"), "exit_ms")
        text = (
            f"Without a startup figure for {absent}, this report cannot say how a container's "
            "start compares with a microVM's. "
        )
    else:
        text = (
            f"Starting and ending a workload that does next to nothing took {fmt_ms(container)} ms "
            "in a tandem container and "
            f"{fmt_ms(microvm)} ms in a tandem microVM, {fmt_ratio(microvm / container)} as long. "
        )
        if microvm > container:
            text += (
                "A container is a process the host kernel fences off; a microVM first boots a "
                "kernel of its own. "
            )
        else:
            text += (
                "Here the microVM was not slower, against the usual picture: check the records "
                "before teaching from it. "
            )
        text += emulation_caveat(bench)
    text += first_instruction_sentence(bench)
    for noun, levels in LEVEL_GROUPS:
        text += extremes_sentence(bench, "startup", level_rows(bench, levels), "exit_ms", noun)
    return text.strip()


def first_instruction_sentence(bench):
    """How long each kind of isolation keeps a workload waiting, and how much of its start that is."""
    waits = []
    for row, kind in (
        ("tandem-container", "a tandem container"),
        ("tandem-microvm", "a tandem microVM"),
        ("libvirt-vm", "the classic VM"),
    ):
        first = bench.median("startup", row, FIRST_INSTRUCTION)
        total = bench.median("startup", row, "exit_ms")
        if first is not None and total:
            waits.append(f"{fmt_ms(first)} ms in {kind} ({first / total * 100:.0f} % of its start)")
    if not waits:
        return ""
    listed = waits[0] if len(waits) == 1 else ", ".join(waits[:-1]) + " and " + waits[-1]
    return (
        f"The workload's own first instruction ran {listed} after the launch; the rest is the "
        "workload and the way out: the runtime's cleanup, or a guest's shutdown. "
    )


def emulation_caveat(bench):
    if not bench.emulated:
        return ""
    factor = emulation_factor(bench)
    measured = (
        f" (the same compute loop took {fmt_ratio(factor)} as long there as on this machine)"
        if factor
        else ""
    )
    return (
        "The microVM ran inside the emulated KVM host, the container on this machine, so emulation "
        f"makes up part of that gap{measured}; on real KVM the gap is smaller. "
    )


def largest_phase(bench, row):
    phases = bench.phase_medians(row)
    return max(phases, key=lambda item: item[1]) if phases else None


def phase_total(bench, row):
    """The same runs' own total if recorded, else the startup median, else the phases' sum."""
    for metric, key in (("startup_phases", PHASES_TOTAL), ("startup", "exit_ms")):
        total = bench.median(metric, row, key)
        if total is not None:
            return total
    return sum(ms for _, ms in bench.phase_medians(row))


def kernel_phase(bench, row):
    named = [(phase, ms) for phase, ms in bench.phase_medians(row) if "kernel" in phase.lower()]
    return max(named, key=lambda item: item[1]) if named else None


def microvm_phase_sentence(bench):
    row = "tandem-microvm"
    if row not in bench.statistics["startup_phases"]:
        return "tandem-microvm has no phases, so this report cannot say what a guest kernel's boot costs. "
    kernel = kernel_phase(bench, row)
    if kernel is None:
        return "tandem-microvm's phases name no kernel boot, so this report cannot say what it costs. "
    total = phase_total(bench, row)
    share = kernel[1] / total * 100 if total else 0
    return (
        f"A microVM pays for a guest kernel's boot: {fmt_ms(kernel[1])} ms of its {fmt_ms(total)} ms "
        f'({share:.0f} %, phase "{kernel[0]}"). '
    )


def container_phase_sentence(bench):
    row = "tandem-container"
    largest = largest_phase(bench, row)
    if largest is None:
        return "tandem-container has no phases, so this report cannot say where a container's start goes. "
    total = phase_total(bench, row)
    phase, ms = largest
    if total and ms / total > 0.5:
        return f"A container's start is mostly {phase} ({fmt_ms(ms)} ms of {fmt_ms(total)} ms). "
    return (
        f"A container's start has no single dominant step: its largest, {phase}, is "
        f"{fmt_ms(ms)} ms of {fmt_ms(total)} ms. "
    )


def phases_meaning(bench):
    return (microvm_phase_sentence(bench) + container_phase_sentence(bench)).strip()


def memory_meaning(bench):
    text = ""
    vmm = bench.median("memory", "tandem-microvm", "runtime_rss_bytes")
    guest = bench.median("memory", "tandem-microvm", "guest_touched_bytes")
    workload = bench.median("memory", "tandem-container", "workload_pss_bytes")
    if vmm is not None and guest is not None:
        text += (
            f"Each microVM carries its guest's touched memory ({fmt_mib(guest)} MiB) on top of "
            f"the VMM ({fmt_mib(vmm)} MiB). "
        )
    else:
        text += (
            "Without tandem-microvm's VMM RSS and guest RAM, this report cannot say what a microVM carries. "
        )
    if workload is not None:
        text += (
            "A container shares the host kernel and the page cache, so its workload costs "
            f"{fmt_mib(workload)} MiB of PSS (a shared page counts only in part for each process "
            "mapping it). "
        )
        cache = bench.median("memory", "tandem-container", "page_cache_shared_bytes")
        if cache is not None:
            text += (
                f"Of its resident memory, {fmt_mib(cache)} MiB is the host's page cache: its "
                "image's files, one copy for every container and process that maps them, where a "
                "microVM's guest reads its files into a page cache of its own, inside its RAM. "
            )
    else:
        text += "Without tandem-container's workload PSS, this report cannot say what its workload costs. "
    container, microvm = bench.footprint_bytes("tandem-container"), bench.footprint_bytes("tandem-microvm")
    if container and microvm:
        comparison = "as much as" if microvm >= container else "the memory of"
        text += (
            f"Counted alike (runtime PSS plus workload PSS or guest RAM), a microVM takes "
            f"{fmt_ratio(microvm / container)} {comparison} a container: {fmt_mib(microvm)} MiB "
            f"against {fmt_mib(container)} MiB."
        )
    return text.strip()


def slope_phrase(bench, row):
    slope = bench.memory_slope_bytes(row)
    if slope is None:
        return f"{row}: one n only, no slope"
    if slope <= 0:
        return (
            f"{row}: no measurable growth ({fmt_mib(slope)} MiB per workload)"
        )
    return f"{row}: {fmt_mib(slope)} MiB"


def start_trend(bench, row):
    ns = bench.density_ns(row)
    first = bench.median("density", row, density_key("start_ms", ns[0])) if ns else None
    last = bench.median("density", row, density_key("start_ms", ns[-1])) if ns else None
    if first is None or last is None or len(ns) < 2 or first == 0:
        return ""
    change = (last / first - 1) * 100
    if abs(change) <= FLAT_START_PERCENT:
        trend = f"stayed within {FLAT_START_PERCENT:.0f} %"
    else:
        trend = "grew" if change > 0 else "fell"
    return (
        f"The time to start one more {row} workload {trend} as others ran: {fmt_ms(first)} ms at "
        f"n={ns[0]}, {fmt_ms(last)} ms at n={ns[-1]}. "
    )


def density_meaning(bench):
    groups = (("container", ("container",)), ("VM", VM_LEVELS))
    text = ""
    for noun, levels in groups:
        rows = [
            row
            for row in bench.peer_rows()
            if bench.level(row) in levels and row in bench.statistics["density"]
        ]
        if rows:
            text += (
                f"Memory added per {noun}, the slope over n: "
                + "; ".join(slope_phrase(bench, row) for row in rows)
                + ". "
            )
        else:
            text += (
                f"No {noun} row has density figures, so this report cannot say what each added {noun} costs. "
            )
    container, microvm = bench.memory_slope_bytes("tandem-container"), bench.memory_slope_bytes(
        "tandem-microvm"
    )
    if container and microvm and container > 0 and microvm > 0:
        text += (
            f"At these slopes, the memory one tandem microVM takes would hold about "
            f"{microvm / container:.0f} idle tandem containers. "
        )
    text += start_trend(bench, "tandem-container") + start_trend(bench, "tandem-microvm")
    return text.strip()


def level_overheads(bench, levels, key, metric):
    figures = []
    for row in bench.peer_rows():
        if bench.level(row) in levels:
            overhead = bench.overhead_percent(row, key, metric)
            if overhead is not None:
                figures.append((row, overhead))
    return figures


def cpu_meaning(bench):
    containers = level_overheads(bench, ("container",), "loop_ms", "cpu")
    vms = level_overheads(bench, VM_LEVELS, "loop_ms", "cpu")
    if not containers or not vms:
        absent = [noun for noun, figures in (("container", containers), ("VM", vms)) if not figures]
        text = "".join(
            f"No {noun} row has both a compute-loop figure and its baseline's. " for noun in absent
        )
        text += (
            "So this report cannot say whether a compute loop runs slower at one level than at the other. "
        )
    else:
        text = cpu_comparison(containers, vms)
    factor = emulation_factor(bench)
    if factor:
        text += (
            f"The emulated KVM host itself ran the loop {fmt_ratio(factor)} as long as this machine: that is "
            "emulation's cost, not the VM's, which is why the VM rows are measured against kvm-host. "
        )
    return text.strip()


def cpu_comparison(containers, vms):
    worst = max(containers + vms, key=lambda item: abs(item[1]))
    if abs(worst[1]) <= NEAR_NATIVE_PERCENT:
        return (
            "A compute loop runs at near-native speed in both: the overhead is in starting, not running "
            f"(every row within {NEAR_NATIVE_PERCENT:.0f} % of its baseline; furthest {worst[0]}, "
            f"{fmt_percent(worst[1])}). "
        )
    return (
        f"The containers ran the loop at {spread_phrase(containers)} against the host, the VMs at "
        f"{spread_phrase(vms)} against their baseline: {worst[0]} is furthest from native, "
        f"{fmt_percent(worst[1])}, more than the {NEAR_NATIVE_PERCENT:.0f} % this report calls near-native. "
    )


def spread_phrase(figures):
    low, high = min(value for _, value in figures), max(value for _, value in figures)
    return fmt_percent(low) if low == high else f"{fmt_percent(low)} to {fmt_percent(high)}"


def io_meaning(bench):
    text = ""
    relative = {}
    for key in SAMPLE_FIELDS["io"]:
        label = FIELD_LABELS[key].capitalize() + "s"
        parts = []
        for noun, levels in LEVEL_GROUPS:
            relative[(noun, key)] = level_overheads(bench, levels, key, "io")
            if relative[(noun, key)]:
                parts.append(f"{spread_phrase(relative[(noun, key)])} in the {noun}")
            else:
                parts.append(f"no figure beside a baseline's in the {noun}")
        text += f"{label} against the baseline: {'; '.join(parts)}. "
    return (text + device_cost_sentence(relative)).strip()


def transfer_names(keys):
    return " and ".join(FIELD_LABELS[key] + "s" for key in keys)


def device_cost_sentence(relative):
    """Whether the VMs lost more against their baseline than the containers, on average per level."""

    def mean(figures):
        return statistics.fmean(value for _, value in figures)

    compared = [
        key for key in SAMPLE_FIELDS["io"] if relative[("containers", key)] and relative[("VMs", key)]
    ]
    if not compared:
        return (
            "Without both levels beside their baselines, this report cannot say what a virtio device costs. "
        )
    worse = [key for key in compared if mean(relative[("VMs", key)]) < mean(relative[("containers", key)])]
    if len(worse) == len(compared):
        return (
            f"The VMs lost more than the containers ({transfer_names(compared)}): every block a guest moves "
            "crosses a virtio device to the VMM, while a container's file I/O goes straight to the "
            "host kernel. "
        )
    if not worse:
        return (
            f"The VMs lost no more than the containers ({transfer_names(compared)}), so a virtio "
            "device's cost "
            "does not show in these figures. "
        )
    better = [key for key in compared if key not in worse]
    return (
        f"The VMs lost more than the containers on {transfer_names(worse)} but not on "
        f"{transfer_names(better)}: these "
        "figures do not settle what a virtio device costs. "
    )


MEANINGS = {
    "startup": startup_meaning,
    "startup_phases": phases_meaning,
    "memory": memory_meaning,
    "density": density_meaning,
    "cpu": cpu_meaning,
    "io": io_meaning,
}


# ---------------------------------------------------------------------------------------------
# Plots


@dataclass
class Plot:
    file: str
    script: list
    size: tuple = PLOT_SIZE


def gp_string(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def gp_datablock(name, lines):
    return [f"${name} << EOD", *lines, "EOD"]


def gp_label(text):
    """A string inside a data block; gnuplot's data quoting has no escapes, so quotes are swapped."""
    return '"' + str(text).replace('"', "'") + '"'


def level_color(level):
    return LEVEL_COLORS.get(level, OTHER_LEVEL_COLOR)


def gp_color(level):
    """A level's colour as a number in a data column, for "lc rgb variable"."""
    return "0x" + level_color(level)[1:]


def gp_number(value):
    return "NaN" if value is None else repr(float(value))


def preamble(title, ylabel):
    return [
        f"set title {gp_string(title)} noenhanced",
        f"set ylabel {gp_string(ylabel)} noenhanced",
        "set key noenhanced",
        "set xtics noenhanced rotate by -25",
        "set grid ytics",
        "set style fill solid 0.85 border -1",
    ]


def log_scale_if_wide(values):
    positive = [value for value in values if value and value > 0]
    if positive and max(positive) / min(positive) > LOG_SCALE_SPREAD:
        return ["set logscale y"], " (log scale)"
    return ["set yrange [0:*]"], ""


def level_key_entries(levels):
    """Empty plots whose only job is the key: one coloured box per level shown."""
    return [f'NaN with boxes lc rgb "{level_color(level)}" title {gp_string(level)}' for level in levels]


def bar_xrange(count):
    """Bars sit at 0..count-1; gnuplot's own range would cut the first one in half."""
    return f"set xrange [-0.7:{count - 0.3}]"


def bar_plot(bench, file, title, ylabel, bars):
    """Bars of medians coloured by level, with min–max whiskers; bars: [(row, median, low, high)]."""
    scale, note = log_scale_if_wide([low for _, _, low, _ in bars] + [high for _, _, _, high in bars])
    data = [
        " ".join([gp_label(row), *map(gp_number, (median, low, high)), gp_color(bench.level(row))])
        for row, median, low, high in bars
    ]
    levels = list(dict.fromkeys(bench.level(row) for row, *_ in bars))
    plot = ", ".join(
        [
            "$bars using 0:2:5:xtic(1) with boxes lc rgb variable notitle",
            '$bars using 0:2:3:4 with yerrorbars lc rgb "black" pt 7 ps 0.3 notitle',
            *level_key_entries(levels),
        ]
    )
    return Plot(
        file,
        [
            *preamble(title, ylabel + note),
            *scale,
            "set boxwidth 0.6",
            bar_xrange(len(bars)),
            *gp_datablock("bars", data),
            f"plot {plot}",
        ],
    )


def startup_plot(bench):
    bars = []
    for row in bench.peer_rows():
        summary = bench.summary("startup", row, "exit_ms")
        if summary:
            bars.append((row, summary["median"], summary["min"], summary["max"]))
    if not bars:
        return None
    return bar_plot(
        bench, "startup.svg", "Startup: launch to exit (median, whiskers min–max)", "ms", bars
    )


def stacked_panel(block, rows, columns, medians, title):
    """A stacked bar per row; columns: [(label, key)], medians(row, key) gives each segment, 0 where
    a row lacks it."""
    header = " ".join([gp_label("row"), *(gp_label(label) for label, _ in columns)])
    data = [header] + [
        " ".join([gp_label(row), *(gp_number(medians(row, key) or 0) for _, key in columns)]) for row in rows
    ]
    return [
        f"set title {gp_string(title)} noenhanced",
        *gp_datablock(block, data),
        f"plot for [i=2:{len(columns) + 1}] ${block} using i:xtic(1) title columnheader(i)",
    ]


# Distinct fills for up to 12 stacked segments (gnuplot's own cycle repeats after 8).
SEGMENT_COLORS = (
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#17becf", "#000000",
)


def stacked_preamble(ylabel, key_place):
    return [
        *(f'set linetype {index} lc rgb "{color}"' for index, color in enumerate(SEGMENT_COLORS, 1)),
        f"set ylabel {gp_string(ylabel)} noenhanced",
        f"set key noenhanced {key_place}",
        "set xtics noenhanced rotate by -25",
        "set grid ytics",
        "set style data histograms",
        "set style histogram rowstacked",
        "set style fill solid 0.85 border -1",
        "set boxwidth 0.6",
        "set yrange [0:*]",
    ]


def merged_order(sequences):
    """One order of every name in the sequences that keeps each sequence's own order (a stacked
    bar's segments must follow its row's phases), ties going to the name seen first."""
    first_seen = list(dict.fromkeys(name for sequence in sequences for name in sequence))
    after = {name: set() for name in first_seen}
    for sequence in sequences:
        for earlier, later in zip(sequence, sequence[1:]):
            after[later].add(earlier)
    order = []
    while len(order) < len(first_seen):
        ready = [name for name in first_seen if name not in order and after[name] <= set(order)]
        # Rows that disagree on an order leave a cycle: the first name seen breaks it.
        order.append(ready[0] if ready else next(name for name in first_seen if name not in order))
    return order


def phases_plot(bench):
    phases = bench.statistics["startup_phases"]
    groups = []
    for noun, levels in LEVEL_GROUPS:
        rows = [row for row in level_rows(bench, levels) if row in phases]
        if rows:
            groups.append((f"{noun[:1].upper()}{noun[1:]}: phases of the start (ms, medians)", rows))
    if not groups:
        return None

    def median(row, phase):
        return bench.median("startup_phases", row, phase)

    # Side by side, the panels leave no room for a key on their right.
    script = [
        *stacked_preamble("ms", "outside top center horizontal"),
        f"set multiplot layout 1,{len(groups)}",
    ]
    for index, (title, rows) in enumerate(groups):
        order = merged_order([[phase for phase, _ in bench.phase_medians(row)] for row in rows])
        columns = [(phase, phase) for phase in order]
        script += stacked_panel(f"panel{index}", rows, columns, median, title)
    script.append("unset multiplot")
    # The phases' names make a tall key above the panels.
    return Plot("startup-phases.svg", script, (1000, 640))


def memory_plot(bench):
    rows = [row for row in bench.peer_rows() if row in bench.statistics["memory"]]
    if not rows:
        return None

    def mib(row, key):
        value = bench.median("memory", row, key)
        return None if value is None else value / 2**20

    columns = [
        (FIELD_LABELS[key], key) for key in ("runtime_rss_bytes", "workload_pss_bytes", "guest_touched_bytes")
    ]
    title = "Memory per workload: runtime RSS, workload PSS, guest RAM touched (medians)"
    return Plot(
        "memory.svg",
        [*stacked_preamble("MiB", "outside right top"), *stacked_panel("memory", rows, columns, mib, title)],
    )


def line_plot(bench, file, title, ylabel, series):
    """One line per row; series: [(row, [(n, value)])]."""
    scale, note = log_scale_if_wide([value for _, points in series for _, value in points])
    script = [
        f"set title {gp_string(title)} noenhanced",
        f"set ylabel {gp_string(ylabel + note)} noenhanced",
        'set xlabel "workloads running (n)"',
        "set key noenhanced outside right top",
        "set grid",
        "set xtics 1",
        *scale,
    ]
    plots = []
    for index, (row, points) in enumerate(series):
        script += gp_datablock(f"row{index}", [f"{n} {gp_number(value)}" for n, value in points])
        dash = 2 if bench.level(row) in VM_LEVELS else 1
        plots.append(f"$row{index} using 1:2 with linespoints lw 2 dt {dash} title {gp_string(row)}")
    script.append("plot " + ", ".join(plots))
    return Plot(file, script)


def density_series(bench, key, scale):
    series = []
    for row in bench.peer_rows():
        points = [(n, bench.median("density", row, density_key(key, n))) for n in bench.density_ns(row)]
        points = [(n, value / scale) for n, value in points if value is not None]
        if points:
            series.append((row, points))
    return series


def density_memory_plot(bench):
    series = density_series(bench, DENSITY_MEMORY, 2**20)
    if not series:
        return None
    return line_plot(
        bench, "density-memory.svg", "Density: PSS of n idle workloads' processes (medians)", "MiB", series
    )


def density_startup_plot(bench):
    series = density_series(bench, "start_ms", 1)
    if not series:
        return None
    return line_plot(
        bench,
        "density-startup.svg",
        "Density: time to start one more workload beside the others (medians)",
        "ms",
        series,
    )


def cpu_plot(bench):
    rows = [(row, bench.overhead_percent(row, "loop_ms", "cpu")) for row in bench.peer_rows()]
    rows = [(row, overhead) for row, overhead in rows if overhead is not None]
    if not rows:
        return None
    data = [f"{gp_label(row)} {gp_number(overhead)} {gp_color(bench.level(row))}" for row, overhead in rows]
    levels = list(dict.fromkeys(bench.level(row) for row, _ in rows))
    plot = ", ".join(
        ["$cpu using 0:2:3:xtic(1) with boxes lc rgb variable notitle", *level_key_entries(levels)]
    )
    return Plot(
        "cpu.svg",
        [
            *preamble("CPU: compute loop against its baseline (median overhead)", "overhead (%)"),
            "set boxwidth 0.6",
            bar_xrange(len(rows)),
            "set xzeroaxis lt -1",
            *gp_datablock("cpu", data),
            f"plot {plot}",
        ],
    )


def io_plot(bench):
    keys = SAMPLE_FIELDS["io"]
    rows = [row for row in bench.rows_for("io") if row in bench.statistics["io"]]
    if not rows:
        return None
    scale, note = log_scale_if_wide([bench.median("io", row, key) for row in rows for key in keys])
    data = [" ".join([gp_label("row"), *(gp_label(FIELD_LABELS[key]) for key in keys)])] + [
        " ".join([gp_label(row), *(gp_number(bench.median("io", row, key)) for key in keys)]) for row in rows
    ]
    return Plot(
        "io.svg",
        [
            *preamble("I/O: sequential throughput inside the workload (medians)", "MiB/s" + note),
            *scale,
            "set style data histograms",
            "set style histogram clustered gap 1",
            "set key outside right top",
            *gp_datablock("io", data),
            f"plot for [i=2:{len(keys) + 1}] $io using i:xtic(1) title columnheader(i)",
        ],
    )


PLOT_BUILDERS = {
    "startup.svg": startup_plot,
    "startup-phases.svg": phases_plot,
    "memory.svg": memory_plot,
    "density-memory.svg": density_memory_plot,
    "density-startup.svg": density_startup_plot,
    "cpu.svg": cpu_plot,
    "io.svg": io_plot,
}


def run_gnuplot(plot, output_dir):
    svg = os.path.join(output_dir, plot.file)
    script = "\n".join([terminal(plot.size), f"set output {gp_string(svg)}", *plot.script, "unset output", ""])
    try:
        result = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BenchError(
            "gnuplot is not installed; install it (Debian: apt-get install gnuplot-nox)"
        ) from None
    if result.returncode != 0:
        raise BenchError(
            f"gnuplot failed rendering {svg} (exit {result.returncode}): {result.stderr.strip()}"
        )
    if result.stderr.strip():
        warn(f"gnuplot warned while rendering {svg}: {result.stderr.strip()}")


def render_plots(bench, output_dir):
    """Renders every plot that has data; returns the files rendered."""
    rendered = set()
    for file, build in PLOT_BUILDERS.items():
        plot = build(bench)
        if plot is not None:
            run_gnuplot(plot, output_dir)
            rendered.add(file)
    return rendered


# ---------------------------------------------------------------------------------------------
# The report


WHAT_IS_MEASURED = {
    "startup": (
        "From launching the runtime or VMM to its exit, running a workload that does next to "
        "nothing: everything a one-shot workload pays before and after its own few microseconds. "
        "Also the time to the workload's first instruction. A container runs tandem-clock-stamp, "
        "which prints the wall clock as it starts, read against the same clock just before the "
        "launch. A guest runs `true`, and its init marks the workload's start with a port write "
        "that the host's KVM tracepoints (kvm_pio) time on the clock of the launch marker."
    ),
    "startup_phases": (
        "Where a start's time goes. For tandem's container, its runtime's own timeline (`tandem run "
        "--stats`, runs of their own): preparation, the clone into new namespaces, the mounts, the "
        "cgroups and the exec, with the CLI and scheduler before the runtime's clock and the "
        "cleanup after it. The other runtimes report no phases, so their start splits at the "
        "workload's first instruction. For every VM the same host-side trace of the startup runs: "
        "VMM setup to the guest's first instruction (the first kvm_entry), then the guest kernel's "
        "boot (behind the firmware, on the classic VM) to its init's first milestone, the init to "
        "the workload's start, the workload, and the shutdown to the VMM's exit."
    ),
    "memory": (
        "What one running workload costs the host: the runtime's or VMM's own processes (RSS, and "
        "PSS, which splits shared pages among the processes that map them), the workload's "
        "processes for a container, and for a VM the guest RAM actually resident on the host "
        "(guest RAM is not counted in the VMM's figures)."
    ),
    "density": (
        "n idle workloads started one after another: the memory they hold together, as the PSS of "
        "all their processes (runtime or VMM, workload, and a guest's resident RAM, which lives in "
        "the VMM's mapping), and the time to start one more workload beside the others. The "
        "host's own count of memory in use, before and after, which also holds kernel memory "
        "(namespaces, cgroups, page tables) but moves with other activity, is in samples.json."
    ),
}


def baseline_rule(bench):
    if not bench.emulated:
        return "Each row is compared against its baseline, host: the same work here without isolation."
    return (
        "Each row is compared against its baseline, the same work without isolation: host for "
        "containers, kvm-host (inside the emulated KVM host) for microVMs and full VMs."
    )


def what_is_measured(bench, metric):
    if metric == "cpu":
        return (
            "A fixed compute loop, timed inside the workload itself, so starting costs are left out. "
            + baseline_rule(bench)
        )
    if metric == "io":
        classic = (
            "The classic VM's disk is a PCI device (virtio-blk-pci), which the guest kernel, built "
            "without PCI, cannot drive: its I/O runs boot Debian's own kernel instead, with an "
            "initramfs that loads its virtio modules. "
            if "libvirt-vm" in bench.statistics["io"]
            else ""
        )
        return (
            "Sequential writes with O_DIRECT and an fsync, then O_DIRECT reads, in MiB/s: a container "
            "writes a file in its root's writable layer, a VM a virtio-blk disk backed by a file on "
            "the host. " + classic + baseline_rule(bench)
        )
    return WHAT_IS_MEASURED[metric]


def plot_lines(metric, rendered):
    lines = []
    for file in PLOTS[metric]:
        if file in rendered:
            lines.append(f"![{file.removesuffix('.svg')}]({file})")
        else:
            lines.append(f"*No plot ({file}): no row has figures for it.*")
    return lines


def metric_section(bench, metric, rendered, ratios):
    return [
        f"## {HEADINGS[metric]}",
        "",
        f"What is measured: {what_is_measured(bench, metric)}",
        "",
        *TABLES[metric](bench),
        "",
        *plot_lines(metric, rendered),
        "",
        *ratio_lines(ratios, metric),
        "",
        f"**What this means.** {MEANINGS[metric](bench)}",
        "",
    ]


def kvm_cell(environment):
    kvm, detail = environment.get("kvm"), environment.get("kvm_detail")
    suffix = f" ({detail})" if isinstance(detail, str) and detail else ""
    if kvm == "emulated":
        return EMULATED_KVM_TEXT + suffix
    if kvm == "real":
        return "real: the VM rows ran on this machine's KVM" + suffix
    return MISSING if kvm in (None, "") else f"{kvm}{suffix}"


def memory_cell(environment):
    nbytes = environment.get("memory_bytes")
    return f"{nbytes / 2**30:.1f} GiB" if is_number(nbytes) else MISSING


def environment_table(environment):
    lines = [
        ["OS", env_text(environment, "os")],
        ["kernel", env_text(environment, "kernel")],
        ["CPU", env_text(environment, "cpu")],
        ["CPUs", env_text(environment, "cpus")],
        ["memory", memory_cell(environment)],
        ["cgroup layout", env_text(environment, "cgroup_layout")],
        ["KVM", kvm_cell(environment)],
    ]
    versions = environment.get("versions")
    if isinstance(versions, dict):
        lines += [[f"{name} version", str(version)] for name, version in versions.items()]
    return markdown_table(["property", "this machine"], lines)


def availability_cell(record):
    if record is None:
        return MISSING
    if record.get("available") is False:
        reason = record.get("reason")
        return f"unavailable: {reason.strip() if isinstance(reason, str) else ''}"
    return "yes"


def code(text):
    return f"`{text}`" if text else ""


def rows_table(bench):
    lines = []
    for row in bench.all_rows():
        record = bench.records.rows.get(row)
        lines.append(
            [
                row,
                bench.label(row),
                bench.level(row),
                str((record or {}).get("where", "")),
                availability_cell(record),
                str((record or {}).get("version", "")),
                code((record or {}).get("command", "")),
                str((record or {}).get("notes", "")),
            ]
        )
    return markdown_table(
        ["id", "label", "level", "where", "available", "version", "command", "notes"], lines
    )


def environment_section(bench):
    return [
        "## Environment",
        "",
        *environment_table(bench.environment),
        "",
        "The rows measured:",
        "",
        *rows_table(bench),
        "",
    ]


class Notes:
    """Numbered reasons under the summary, so its cells stay short."""

    def __init__(self):
        self.reasons = {}  # (row, reason) -> [number, [metrics]]

    def cell(self, row, metric, status):
        if status == MISSING:
            return MISSING
        if not status.reason:
            return "unavailable:"
        entry = self.reasons.setdefault((row, status.reason), [len(self.reasons) + 1, []])
        entry[1].append(metric)
        return f"unavailable [{entry[0]}]"

    def lines(self):
        return [
            f"- [{number}] {row} ({', '.join(dict.fromkeys(metrics))}): {reason}"
            for (row, reason), (number, metrics) in self.reasons.items()
        ]


def summary_startup(bench, row, notes):
    """Launch to the workload's first instruction (where the phases have it), then to its exit."""
    status = bench.status("startup", row)
    if status != DATA:
        return notes.cell(row, "startup", status)
    median = bench.median("startup", row, "exit_ms")
    if median is None:
        return MISSING
    first = bench.median("startup", row, FIRST_INSTRUCTION)
    return fmt_ms(median) if first is None else f"{fmt_ms(first)} / {fmt_ms(median)}"


def summary_memory(bench, row, notes):
    status = bench.status("memory", row)
    if status != DATA:
        return notes.cell(row, "memory", status)
    runtime = bench.median("memory", row, "runtime_rss_bytes")
    workload = bench.median("memory", row, bench.workload_memory_field(row))
    return MISSING if runtime is None or workload is None else f"{fmt_mib(runtime)} + {fmt_mib(workload)}"


def summary_density(bench, row, notes):
    status = bench.status("density", row)
    if status != DATA:
        return notes.cell(row, "density", status)
    n = bench.density_ns(row)[-1]
    per_workload = bench.per_workload_bytes(row, n)
    return MISSING if per_workload is None else f"{fmt_mib(per_workload)} (n={n})"


def summary_against_baseline(bench, row, notes, metric, key):
    status = bench.status(metric, row)
    if status != DATA:
        return notes.cell(row, metric, status)
    base = bench.baseline_of(row)
    base_status = bench.status(metric, base)
    if base_status != DATA:
        return notes.cell(base, metric, base_status)
    overhead = bench.overhead_percent(row, key, metric)
    return MISSING if overhead is None else fmt_percent(overhead)


def summary_io(bench, row, notes, key):
    status = bench.status("io", row)
    if status != DATA:
        return notes.cell(row, "io", status)
    median = bench.median("io", row, key)
    return MISSING if median is None else fmt_rate(median)


def summary_section(bench):
    notes = Notes()
    lines = [
        [
            row,
            bench.level(row),
            summary_startup(bench, row, notes),
            summary_memory(bench, row, notes),
            summary_density(bench, row, notes),
            summary_against_baseline(bench, row, notes, "cpu", "loop_ms"),
            summary_io(bench, row, notes, "write_mib_s"),
            summary_io(bench, row, notes, "read_mib_s"),
        ]
        for row in bench.peer_rows()
    ]
    header = [
        "row",
        "level",
        "startup (ms): first instruction / exit",
        "memory (MiB): runtime RSS + workload PSS or guest RAM",
        "density (MiB per workload, largest n)",
        "CPU overhead",
        "I/O write (MiB/s)",
        "I/O read (MiB/s)",
    ]
    note_lines = notes.lines()
    return [
        "## Summary",
        "",
        "Medians; the sections below give the spread and how each figure was taken.",
        "",
        *markdown_table(header, lines),
        "",
        *(["Unavailable, and why:", "", *note_lines, ""] if note_lines else []),
    ]


def sample_counts(bench, metric):
    counts = []
    for summaries in bench.statistics[metric].values():
        counts += [summary["n"] for summary in summaries.values()]
    return counts


def count_range(counts):
    low, high = min(counts), max(counts)
    return str(low) if low == high else f"{low}–{high}"


def method_section(bench):
    runs = bench.environment.get("runs")
    runs = runs if isinstance(runs, dict) else {}
    lines = [
        "## Method and caveats",
        "",
        "Repeat counts, as asked for (the environment's `runs`) and as measured:",
        "",
    ]
    for metric in METRICS:
        asked = runs.get(metric, runs.get("startup") if metric == "startup_phases" else None)
        counts = sample_counts(bench, metric)
        measured = f"n = {count_range(counts)} per row and quantity" if counts else "no samples"
        lines.append(
            f"- {HEADINGS[metric]}: {asked if asked is not None else 'not recorded'} asked; {measured}."
        )
    lines += [
        "",
        "- Every figure is a median, with the spread as min–max and as the quartiles q1–q3 "
        "(linear interpolation, the inclusive method). Ratios divide medians.",
        "- Only figures within one run of `tandem bench`, on one machine, are comparable: another "
        "run, another load or another machine moves them.",
        f"- {baseline_rule(bench)}",
        "- Density's memory is the PSS of the workloads' processes; kernel memory (namespaces, "
        "cgroups, page tables, KVM's own structures) is not in it. samples.json keeps the host's "
        "count of memory in use beside it, which holds that too but moves with other activity.",
    ]
    if bench.emulated:
        lines.append(
            "- KVM was emulated: the VM rows ran inside the emulated KVM host (QEMU TCG with SVM), so their "
            "absolute times are far slower than on real KVM; compare ratios, and compare VM rows "
            "with kvm-host rather than with host."
        )
    lines.append(
        "- Every raw record, the statistics and the ratios are in `samples.json` beside this report."
    )
    return lines + [""]


def title_lines(environment):
    mode = env_text(environment, "mode")
    started = env_text(environment, "started")
    command = environment.get("command")
    return [
        TITLE,
        "",
        f"Mode: {mode}; started {started}; command: {code(command) if command else MISSING}.",
        "",
    ]


def render_report(bench, rendered, ratios):
    lines = [*title_lines(bench.environment), *environment_section(bench), *summary_section(bench)]
    for metric in METRICS:
        lines += metric_section(bench, metric, rendered, ratios[metric])
    lines += method_section(bench)
    return "\n".join(lines)


def samples_document(bench, ratios):
    return {
        "schema": SCHEMA,
        "environment": bench.environment,
        "rows": [bench.records.rows[row] for row in bench.all_rows() if row in bench.records.rows],
        "records": bench.records.raw,
        "statistics": bench.statistics,
        "ratios": [ratio.to_json() for metric in METRICS for ratio in ratios[metric]],
    }


def write_file(path, text):
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as error:
        raise BenchError(f"cannot write {path}: {error.strerror}") from None


def write_report(records_path, output_dir):
    bench = Bench(read_records(records_path))
    try:
        os.makedirs(output_dir, exist_ok=True)
    except OSError as error:
        raise BenchError(f"cannot create the output folder {output_dir}: {error.strerror}") from None
    ratios = {metric: metric_ratios(bench, metric) for metric in METRICS}
    rendered = render_plots(bench, output_dir)
    write_file(os.path.join(output_dir, "report.md"), render_report(bench, rendered, ratios))
    write_file(
        os.path.join(output_dir, "samples.json"), json.dumps(samples_document(bench, ratios), indent=1) + "\n"
    )


def main():
    parser = argparse.ArgumentParser(description="Writes the report of a `tandem bench` run.")
    parser.add_argument("--records", required=True, help="the JSON-lines records file")
    parser.add_argument(
        "--output", required=True, help="the folder for report.md, the plots and samples.json"
    )
    args = parser.parse_args()
    try:
        write_report(args.records, args.output)
    except BenchError as error:
        print(f"bench_report: {error}", file=sys.stderr)
        return 1
    print(f"bench_report: wrote {os.path.join(args.output, 'report.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Proves that check_bench_report.py passes a complete report and fails an incomplete one.

Builds a synthetic records file (every expected row and metric, a few samples each, some rows and
metrics unavailable with reasons, KVM emulated), renders it with bench_report.py and checks it,
then breaks it one way at a time and expects the check to fail, naming the problem. Needs no
root and runs no benchmark; needs gnuplot (exit 77, a skip, without it).
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHMARKS = os.path.normpath(os.path.join(HERE, "..", "..", "benchmarks"))
REPORT = os.path.join(BENCHMARKS, "bench_report.py")
CHECKER = os.path.join(BENCHMARKS, "check_bench_report.py")

ROWS = {
    "tandem-container": ("container", "host"),
    "runc": ("container", "host"),
    "crun": ("container", "host"),
    "bwrap": ("container", "host"),
    "tandem-microvm": ("microvm", "emulated KVM host"),
    "qemu-microvm": ("microvm", "emulated KVM host"),
    "libvirt-vm": ("full-vm", "emulated KVM host"),
    "host": ("baseline", "host"),
    "kvm-host": ("baseline", "emulated KVM host"),
}
UNAVAILABLE_ROWS = {
    "crun": "crun is not installed (apt-get install crun)",
    "libvirt-vm": "libvirtd does not run inside the emulated KVM host",
}
UNAVAILABLE_METRICS = [
    ("startup_phases", "bwrap", "bwrap reports no phases of its own"),
    ("io", "bwrap", "bwrap binds the host's folder as its root, so its I/O is the host's"),
]
# Rough magnitudes, so that the report reads like a real one; the test checks no value.
STARTUP_MS = {
    "tandem-container": 12.0,
    "runc": 19.0,
    "bwrap": 3.5,
    "tandem-microvm": 1080.0,
    "qemu-microvm": 1660.0,
}
CONTAINER_PHASES = {"clone and namespaces": 0.3, "cgroups": 0.2, "mounts": 0.25, "exec": 0.25}
VM_PHASES = {"VMM setup": 0.14, "kernel boot": 0.6, "init": 0.16, "workload": 0.1}
LOOP_MS = {"host": 200.0, "kvm-host": 5200.0}


def environment():
    return {
        "type": "environment",
        "mode": "quick",
        "started": "2026-12-07T10:00:00Z",
        "command": "tandem bench --quick",
        "kernel": "6.1.0-28-amd64",
        "os": "Debian GNU/Linux 12 (bookworm)",
        "cpu": "AMD EPYC 7B13",
        "cpus": 2,
        "memory_bytes": 8 * 2**30,
        "cgroup_layout": "cgroup v2, unified",
        "kvm": "emulated",
        "kvm_detail": "no /dev/kvm on this machine; VM rows ran in tools/kvm-host",
        "runs": {"startup": 5, "memory": 3, "density": 2, "cpu": 3, "io": 3},
        "versions": {"runc": "1.1.5", "bwrap": "0.8.0", "qemu": "7.2.13"},
        "future_field": "kept, never read",
    }


def row_record(row):
    level, where = ROWS[row]
    record = {"type": "row", "row": row, "label": row, "level": level, "where": where}
    if row in UNAVAILABLE_ROWS:
        return {**record, "available": False, "reason": UNAVAILABLE_ROWS[row]}
    return {**record, "available": True, "version": "1.0", "command": f"{row} run /bin/true", "notes": ""}


def jitter(rng, value, spread=0.1):
    return value * rng.uniform(1 - spread, 1 + 1.5 * spread)


def startup_samples(rng, row):
    """Startup samples; tandem's phases come in startup_phases samples of their own (with the same
    runs' total), runc's inside its startup samples: the report reads both."""
    phases = VM_PHASES if ROWS[row][0] == "microvm" else CONTAINER_PHASES
    for run in range(5):
        total = jitter(rng, STARTUP_MS[row])
        sample = {"type": "sample", "metric": "startup", "row": row, "run": run, "exit_ms": total}
        phases_ms = {name: total * share for name, share in phases.items()}
        if row.startswith("tandem-"):
            sample["first_instruction_ms"] = total * 0.9
            yield {
                "type": "sample",
                "metric": "startup_phases",
                "row": row,
                "run": run,
                "phases_ms": phases_ms,
                "total_ms": total,
            }
        elif row != "bwrap":
            sample["phases_ms"] = phases_ms
        yield sample


def memory_samples(rng, row):
    for run in range(3):
        sample = {"type": "sample", "metric": "memory", "row": row, "run": run}
        sample["runtime_rss_bytes"] = int(jitter(rng, 3 * 2**20))
        sample["runtime_pss_bytes"] = int(jitter(rng, 2 * 2**20))
        if ROWS[row][0] == "microvm":
            sample["guest_touched_bytes"] = int(jitter(rng, 40 * 2**20))
        else:
            sample["workload_rss_bytes"] = int(jitter(rng, 2**20))
            sample["workload_pss_bytes"] = int(jitter(rng, 0.3 * 2**20))
        yield sample


def density_samples(rng, row):
    per_workload = 45 * 2**20 if ROWS[row][0] == "microvm" else 2 * 2**20
    for run in range(2):
        for n in (1, 2, 3, 4):
            yield {
                "type": "sample",
                "metric": "density",
                "row": row,
                "run": run,
                "n": n,
                "processes_pss_bytes": int(jitter(rng, per_workload * n)),
                "host_memory_bytes": int(jitter(rng, per_workload * n)),
                "start_ms": jitter(rng, STARTUP_MS.get(row, 10.0) * (1 + 0.05 * n)),
            }


def cpu_samples(rng, row):
    base = LOOP_MS["kvm-host" if ROWS[row][1] == "emulated KVM host" else "host"]
    for run in range(3):
        yield {"type": "sample", "metric": "cpu", "row": row, "run": run, "loop_ms": jitter(rng, base, 0.02)}


def io_samples(rng, row):
    scale = 0.1 if ROWS[row][1] == "emulated KVM host" else 1.0
    for run in range(3):
        yield {
            "type": "sample",
            "metric": "io",
            "row": row,
            "run": run,
            "write_mib_s": jitter(rng, 900 * scale),
            "read_mib_s": jitter(rng, 2000 * scale),
        }


def complete_records():
    rng = random.Random(7)
    records = [environment()] + [row_record(row) for row in ROWS]
    measured = [row for row in ROWS if row not in UNAVAILABLE_ROWS]
    for row in measured:
        if ROWS[row][0] != "baseline":
            records += startup_samples(rng, row)
            records += memory_samples(rng, row)
            records += density_samples(rng, row)
        records += cpu_samples(rng, row)
        if row != "bwrap":
            records += io_samples(rng, row)
    records += [
        {"type": "unavailable", "metric": m, "row": r, "reason": why} for m, r, why in UNAVAILABLE_METRICS
    ]
    return records


def write_records(path, records):
    with open(path, "w", encoding="utf-8") as out:
        out.writelines(json.dumps(record) + "\n" for record in records)


def run(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, check=False)


class Failures:
    def __init__(self):
        self.messages = []

    def expect(self, condition, message, result=None):
        if condition:
            print(f"passed: {message}")
            return
        detail = f"\n  stdout: {result.stdout.strip()}\n  stderr: {result.stderr.strip()}" if result else ""
        self.messages.append(message)
        print(f"FAILED: {message}{detail}")


def render(folder, records, failures, name):
    """Writes the records and the report into folder; True when bench_report.py succeeded."""
    os.makedirs(folder)
    path = os.path.join(folder, "records.jsonl")
    write_records(path, records)
    output = os.path.join(folder, "report")
    result = run(REPORT, "--records", path, "--output", output)
    failures.expect(result.returncode == 0, f"{name}: bench_report.py writes the report", result)
    return output


def expect_check_fails(output, failures, name, mentions):
    result = run(CHECKER, output)
    failures.expect(
        result.returncode == 1 and mentions in result.stdout,
        f'{name}: the checker fails and names "{mentions}"',
        result,
    )


def complete_case(root, failures):
    output = render(os.path.join(root, "complete"), complete_records(), failures, "complete records")
    result = run(CHECKER, output)
    failures.expect(
        result.returncode == 0 and "report structure OK" in result.stdout,
        "complete records: the checker passes",
        result,
    )
    return output


def missing_row_case(root, failures):
    records = [record for record in complete_records() if record.get("row") != "runc"]
    output = render(os.path.join(root, "missing-row"), records, failures, "a row with no records")
    expect_check_fails(output, failures, "a row with no records and no reason", "MISSING")


def empty_reason_case(root, failures):
    records = complete_records()
    for record in records:
        if (
            record["type"] == "unavailable"
            and record["row"] == "bwrap"
            and record["metric"] == "startup_phases"
        ):
            record["reason"] = ""
    output = render(os.path.join(root, "empty-reason"), records, failures, "an empty reason")
    expect_check_fails(output, failures, "an unavailable record with an empty reason", "gives no reason")


def deleted_plot_case(root, complete, failures):
    output = os.path.join(root, "deleted-plot")
    shutil.copytree(complete, output)
    os.remove(os.path.join(output, "startup.svg"))
    expect_check_fails(output, failures, "a deleted SVG", "startup.svg")


def removed_section_case(root, complete, failures):
    output = os.path.join(root, "removed-section")
    shutil.copytree(complete, output)
    report = os.path.join(output, "report.md")
    with open(report, encoding="utf-8") as source:
        text = source.read()
    start = text.index("## Density")
    end = text.index("## ", start + 1)
    with open(report, "w", encoding="utf-8") as out:
        out.write(text[:start] + text[end:])
    expect_check_fails(output, failures, "a report with a section removed", "## Density")


def malformed_records_case(root, failures):
    folder = os.path.join(root, "malformed")
    os.makedirs(folder)
    path = os.path.join(folder, "records.jsonl")
    write_records(path, complete_records()[:3])
    with open(path, "a", encoding="utf-8") as out:
        out.write("{not json\n")
    result = run(REPORT, "--records", path, "--output", os.path.join(folder, "report"))
    failures.expect(
        result.returncode == 1 and "line 4" in result.stderr,
        "malformed records: bench_report.py fails and names the line",
        result,
    )


def no_environment_case(root, failures):
    folder = os.path.join(root, "no-environment")
    os.makedirs(folder)
    path = os.path.join(folder, "records.jsonl")
    write_records(path, complete_records()[1:])
    result = run(REPORT, "--records", path, "--output", os.path.join(folder, "report"))
    failures.expect(
        result.returncode == 1 and "no environment record" in result.stderr,
        "no environment record: bench_report.py fails and says so",
        result,
    )


def main():
    if shutil.which("gnuplot") is None:
        print("SKIP: gnuplot is not installed (Debian: apt-get install gnuplot-nox)")
        return 77
    failures = Failures()
    with tempfile.TemporaryDirectory(prefix="bench-report-test.") as root:
        complete = complete_case(root, failures)
        missing_row_case(root, failures)
        empty_reason_case(root, failures)
        deleted_plot_case(root, complete, failures)
        removed_section_case(root, complete, failures)
        malformed_records_case(root, failures)
        no_environment_case(root, failures)
    if failures.messages:
        print(f"{len(failures.messages)} case(s) failed")
        return 1
    print("all cases passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/bin/bash
# `tandem bench --quick`, the one command a fresh machine runs, writes a complete report: every
# section and plot, every row with figures or marked unavailable with its reason
# (benchmarks/check_bench_report.py). tandem's own rows, and the peers this machine has, must be
# measured, not excused. The values are not checked.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "namespaces, cgroups and VMs"
need_tools python3 gnuplot runc bwrap

benchmarks=$(cd "$(dirname "$0")/../../benchmarks" && pwd)
report=$(mktemp -d /tmp/tandem-bench-test.XXXXXX)
trap 'rm -rf "$report"' EXIT
TANDEM_BENCHMARKS=$benchmarks "$TANDEM" bench --quick --output "$report" ||
  fail "tandem bench --quick failed"
python3 "$benchmarks/check_bench_report.py" "$report" || fail "the report is incomplete"

# The rows that must have run here, whatever the machine: tandem's two levels (the microVM in the
# emulated KVM host where /dev/kvm is missing) and the peers the test suite installs, libvirt among
# them.
for row in tandem-container tandem-microvm qemu-microvm libvirt-vm runc bwrap; do
  available=$(jq -r --arg row "$row" '.rows[] | select(.row == $row) | .available' \
    "$report/samples.json")
  [[ $available == true ]] ||
    fail "row $row was not measured: $(jq -r --arg row "$row" \
      '.rows[] | select(.row == $row) | .reason' "$report/samples.json")"
done
# Each of them timed to its workload's first instruction, with its start in phases: tandem's own
# timelines, the VMs' from the host's KVM tracepoints, the peer containers' split at the stamp.
for row in tandem-container tandem-microvm qemu-microvm libvirt-vm runc bwrap; do
  jq -e --arg row "$row" '.statistics.startup[$row].first_instruction_ms.n > 0' \
    "$report/samples.json" >/dev/null || fail "row $row has no time to its first instruction"
  jq -e --arg row "$row" '.statistics.startup_phases[$row] | length > 1' "$report/samples.json" \
    >/dev/null || fail "row $row has no startup phases"
  # The classic VM's too, on Debian's kernel (tandem-kvm-host --print-kernel).
  jq -e --arg row "$row" '.statistics.io[$row].write_mib_s.n > 0' "$report/samples.json" \
    >/dev/null || fail "row $row has no I/O figures"
done
# The summary table, for the log: what a closing note quotes.
sed -n '/^## Summary/,/^## [^S]/p' "$report/report.md"

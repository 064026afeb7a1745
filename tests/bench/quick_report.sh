#!/bin/bash
# `tandem bench --quick`, the one command a fresh machine runs, writes a complete report: every
# section and plot, every row with figures or marked unavailable with its reason
# (benchmarks/check_bench_report.py). tandem's own rows, and the peers this machine has, must be
# measured, not excused. The values are not checked.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "namespaces, cgroups and VMs"
need_tools python3 gnuplot hyperfine runc bwrap

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
# The summary table, for the log: what a closing note quotes.
sed -n '/^## Summary/,/^## [^S]/p' "$report/report.md"

#!/bin/bash
# --cpus 0.5 holds a busy loop to half a CPU, within 20 %.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
make_rootfs

# cpu_share RUN_OUTPUT: CPU time over wall time, in percent.
cpu_share() {
  assert_match '^cpu_ms=([0-9]+) wall_ms=([0-9]+)$' "$1" "spin result"
  echo $((BASH_REMATCH[1] * 100 / BASH_REMATCH[2]))
}

# Control: unlimited, the loop gets (nearly) a whole CPU, so the limited run's figure is the
# quota's doing and not a busy machine's.
tandem_run -- "$IN_PROBE" spin 2
assert_status 0 "spin without a quota"
share=$(cpu_share "$out")
((share >= 80)) || skip "the machine is too busy to measure a quota: an unlimited spin got $share % CPU"

tandem_run --cpus 0.5 -- "$IN_PROBE" spin 3
assert_status 0 "spin under --cpus 0.5"
share=$(cpu_share "$out")
((share >= 40 && share <= 60)) || fail "--cpus 0.5 gave $share % of a CPU ($out)"

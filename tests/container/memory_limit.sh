#!/bin/bash
# --memory caps the container: a workload that touches more is OOM-killed, and tandem reports it
# as exit 137 with "OOM" on stderr.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
make_rootfs

# Control: the same limit leaves a workload well under it alone.
tandem_run --memory 32M -- "$IN_PROBE" memhog 8
assert_status 0 "memhog 8 MiB under --memory 32M"

# 128 MiB is over the limit even when swap doubles it (the Docker default for --memory-swap).
tandem_run --memory 32M -- "$IN_PROBE" memhog 128
assert_status 137 "memhog 128 MiB under --memory 32M"
[[ $err == *OOM* ]] || { show_run; fail "no OOM report on stderr"; }
[[ $(tail -n 1 <<<"$out") != touched_mib=128 ]] || fail "the workload touched all 128 MiB"

#!/bin/bash
# --memory caps the container: a workload that touches more is OOM-killed, and tandem reports it
# as exit 137 with "OOM" on stderr.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
make_rootfs

# Control: the same limit leaves a workload well under it alone. The limit leaves room for the
# container's first process before it execs the workload, which in a sanitizer build is a far
# larger tandem (ASan's shadow memory and a 120 MB binary) charged to the same cgroup.
tandem_run --memory 64M -- "$IN_PROBE" memhog 8
assert_status 0 "memhog 8 MiB under --memory 64M"

# 256 MiB is over the limit even when swap doubles it (the Docker default for --memory-swap).
tandem_run --memory 64M -- "$IN_PROBE" memhog 256
assert_status 137 "memhog 256 MiB under --memory 64M"
[[ $err == *OOM* ]] || { show_run; fail "no OOM report on stderr"; }
[[ $(tail -n 1 <<<"$out") != touched_mib=256 ]] || fail "the workload touched all 256 MiB"

#!/bin/bash
# SIGTERM sent to tandem reaches the workload: with --init, the init forwards it and the workload,
# an ordinary process with the default action, dies of it.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
make_rootfs

tandem_start --rm --init -- "$IN_PROBE" sleep 60 "$MARKER"
wait_for_output '^sleeping pid=' 20
assert_match '^sleeping pid=([0-9]+)$' "$(<"$SCRATCH/out")" "probe start line"
[[ ${BASH_REMATCH[1]} != 1 ]] || fail "with --init the workload must not be PID 1"
kill -TERM "$TANDEM_PID"
tandem_wait 20
assert_status 143 "tandem after SIGTERM"

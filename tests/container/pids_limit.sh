#!/bin/bash
# --pids-limit caps the number of tasks: a fork bomb stops near the limit with EAGAIN.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
make_rootfs

tandem_run --pids-limit 20 -- "$IN_PROBE" forkbomb 200
assert_status 0 "forkbomb under --pids-limit 20"
assert_match '^forked=([0-9]+) failed=EAGAIN$' "$out" "forkbomb result"
forked=${BASH_REMATCH[1]}
# The probe itself counts against the limit, and an init or a setup helper may too.
((forked >= 15 && forked <= 19)) || fail "forked $forked children under a limit of 20"

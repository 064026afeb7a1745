#!/bin/bash
# A --memory value that is not a size is a runtime error: exit 125, one "tandem: " line, nothing
# left.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
make_rootfs

before=$(host_snapshot)
tandem_run --memory lots -- /bin/true
assert_runtime_error "--memory lots"
assert_nothing_left "$before" "--memory lots"

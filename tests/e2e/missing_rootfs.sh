#!/bin/bash
# A rootfs that does not exist is a runtime error: exit 125, one "tandem: " line, nothing left.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"

before=$(host_snapshot)
tandem_run -- /bin/true
assert_runtime_error "a missing rootfs"
assert_nothing_left "$before" "a missing rootfs"

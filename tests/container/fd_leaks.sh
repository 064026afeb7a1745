#!/bin/bash
# The workload inherits stdin, stdout and stderr and nothing else: not tandem's own files, and not
# descriptors tandem itself inherited.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
make_rootfs

# Open descriptors tandem will inherit from this script, then check the probe sees them here,
# so its silence in the container means something.
exec 7<"$ROOTFS/etc/passwd" 8>"$SCRATCH/fd8"
native=$("$PROBE" fds)
[[ $native == *"7:$ROOTFS/etc/passwd"* ]] || fail "the probe misses fd 7: $native"

tandem_run -- "$IN_PROBE" fds
assert_status 0 "probe fds"
assert_eq "fds=" "$out" "descriptors open in the workload"

tandem_run --init -- "$IN_PROBE" fds
assert_status 0 "probe fds under --init"
assert_eq "fds=" "$out" "descriptors open in the workload under --init"

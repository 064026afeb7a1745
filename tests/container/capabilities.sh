#!/bin/bash
# Root in the container gets Docker's default capability set; --cap-drop and --cap-add change it,
# and a non-root user has no effective capabilities at all.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
make_rootfs

# Docker's default: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE
# NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
readonly default=00000000a80425fb
readonly without_net_raw=00000000a80405fb  # bit 13
readonly with_sys_admin=00000000a82425fb   # bit 21

tandem_run -- "$IN_PROBE" caps
assert_status 0 "caps as root"
assert_eq "CapEff=$default CapPrm=$default CapBnd=$default" "$out" "root's capabilities"

tandem_run --cap-drop NET_RAW -- "$IN_PROBE" caps
assert_status 0 "caps with --cap-drop NET_RAW"
assert_eq "CapEff=$without_net_raw CapPrm=$without_net_raw CapBnd=$without_net_raw" "$out" \
  "capabilities with --cap-drop NET_RAW"

tandem_run --cap-add SYS_ADMIN -- "$IN_PROBE" caps
assert_status 0 "caps with --cap-add SYS_ADMIN"
assert_eq "CapEff=$with_sys_admin CapPrm=$with_sys_admin CapBnd=$with_sys_admin" "$out" \
  "capabilities with --cap-add SYS_ADMIN"

# The bounding set stays: it limits what a setuid binary could regain, not what the user holds.
tandem_run --user 1000 -- "$IN_PROBE" caps
assert_status 0 "caps as user 1000"
assert_eq "CapEff=0000000000000000 CapPrm=0000000000000000 CapBnd=$default" "$out" \
  "user 1000's capabilities"

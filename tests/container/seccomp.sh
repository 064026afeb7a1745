#!/bin/bash
# The seccomp filter refuses swapon and kexec_load with EPERM, even to a workload holding the
# capabilities the kernel itself would check.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
make_rootfs

# Control: with no filter, this kernel answers these calls with something other than EPERM (the
# probe's arguments are invalid on purpose), so an EPERM below can only come from the filter.
for call in swapon kexec_load; do
  native=$("$PROBE" syscall "$call")
  [[ $native != *errno=EPERM ]] || skip "this host refuses $call itself ($native)"
done

for call in swapon kexec_load; do
  tandem_run -- "$IN_PROBE" syscall "$call"
  assert_status 0 "probe syscall $call"
  assert_eq "$call errno=EPERM" "$out" "$call in the container"

  tandem_run --cap-add SYS_ADMIN --cap-add SYS_BOOT -- "$IN_PROBE" syscall "$call"
  assert_status 0 "probe syscall $call with SYS_ADMIN and SYS_BOOT"
  assert_eq "$call errno=EPERM" "$out" "$call with the capabilities the kernel checks"
done

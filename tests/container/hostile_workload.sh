#!/bin/bash
# A hostile workload, running as root in its container with the default capabilities, tries to
# reach the host: mount, ptrace of a host process, writes under /proc/sys and to the sysrq
# trigger, a device node of its own for the host's memory and disks, module loading, and joining
# or making namespaces. Every attempt fails, and the host is unchanged afterwards.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
make_rootfs

# attempt WHAT ARGS...: runs the probe with ARGS in a container; its output lands in $out.
attempt() {
  local what=$1
  shift
  tandem_run -- "$IN_PROBE" "$@"
  assert_status 0 "the probe's $what attempt"
}

# Mount, in each of its forms: a new mount, and making the read-only /proc/sys writable.
for call in mount remount-proc-sys; do
  attempt "$call" syscall "$call"
  assert_eq "$call errno=EPERM" "$out" "$call in the container"
done

# ptrace of a process on the host. The workload's pid namespace does not even show it.
"$PROBE" sleep 60 "$MARKER" >/dev/null &
victim=$!
at_exit kill "$victim"
attempt ptrace ptrace "$victim"
assert_match '^ptrace errno=(ESRCH|EPERM)$' "$out" "ptrace of host pid $victim"
state=$(awk '{ print $3 }' "/proc/$victim/stat")
[[ $state == S ]] || fail "the host process $victim is in state $state after the attempt, not S"

# Writes under /proc/sys, to a global setting, and to the sysrq trigger.
panic_before=$(</proc/sys/kernel/panic)
attempt "/proc/sys write" write /proc/sys/kernel/panic 1234
assert_match '^(open|write) errno=(EROFS|EACCES|EPERM)$' "$out" "a write to /proc/sys/kernel/panic"
assert_eq "$panic_before" "$(</proc/sys/kernel/panic)" "the host's kernel.panic"
attempt "sysrq" write /proc/sysrq-trigger h
assert_match '^(open|write) errno=(EROFS|EACCES|EPERM|ENOENT)$' "$out" "a write to /proc/sysrq-trigger"

# mknod is allowed (CAP_MKNOD is in the default set, as in Docker), but the device cgroup
# refuses the node's use: the host's memory, and a disk.
attempt "mknod of /dev/mem" mknod-open c 1 1 /mem
assert_eq $'mknod ok\nopen errno=EPERM' "$out" "mknod and open of /dev/mem (1:1)"
attempt "mknod of a disk" mknod-open b 8 0 /sda
assert_eq $'mknod ok\nopen errno=EPERM' "$out" "mknod and open of a disk (8:0)"

# Module loading, by both calls.
for call in init_module finit_module; do
  attempt "$call" syscall "$call"
  assert_eq "$call errno=EPERM" "$out" "$call in the container"
done

# Joining a namespace, and making a user namespace in which the workload would hold every
# capability.
for call in setns-net unshare-user; do
  attempt "$call" syscall "$call"
  assert_eq "$call errno=EPERM" "$out" "$call in the container"
done

echo "ok: every attack failed"

#!/bin/bash
# On a machine without a usable /dev/kvm (none, or one without hardware virtualization, such as
# kvm_pvm's), --isolation vm fails at once, in one line that says why and names the emulated KVM
# host as the way to try microVMs here.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
kvm_usable && skip "this machine has a usable /dev/kvm; the vm suite covers it"

make_rootfs
started=$SECONDS
status=0
timeout --kill-after=5 30 "$TANDEM" run --isolation vm --rootfs "$ROOTFS" -- /bin/true \
  </dev/null >"$SCRATCH/out" 2>"$SCRATCH/err" || status=$?
out=$(<"$SCRATCH/out")
err=$(<"$SCRATCH/err")
assert_runtime_error "--isolation vm without /dev/kvm"
assert_match "/dev/kvm" "$err" "the message names the device"
assert_match "tandem-kvm-host" "$err" "the message names the emulated KVM host"
((SECONDS - started < 5)) || fail "took $((SECONDS - started)) s to refuse; it must fail at once"

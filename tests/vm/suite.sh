#!/usr/bin/env bash
# The vm suite's entry point (a TAP test for meson). Where /dev/kvm works (tests/kvm_usable.sh),
# runs cases.sh here; elsewhere boots the emulated KVM host once and runs every case inside it.
set -euo pipefail

: "${TANDEM:?}" "${KVM_HOST:?}" "${MKROOTFS:?}" "${TANDEM_GUEST_INIT:?}" "${TANDEM_VMM:?}" "${KVM_DEVICE_TEST:?}"
: "${TANDEM_PAUSE:?}" "${TANDEM_OCI:?}"
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../kvm_usable.sh
source "$here/../kvm_usable.sh"

if [[ -z ${TANDEM_GUEST_KERNEL:-} || ! -f ${TANDEM_GUEST_KERNEL:-} ]]; then
  echo "1..0 # SKIP no guest kernel: set TANDEM_GUEST_KERNEL (scripts/test.sh builds one with guest-kernel-config/build.sh)"
  exit 0
fi

scratch=$(mktemp -d /tmp/tandem-vm-suite.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
"$MKROOTFS" "$scratch/rootfs" >/dev/null

export GUEST_ROOTFS=$scratch/rootfs
# An image store holding the embedded busybox image and its ext4 disk, made here: the emulated
# host has no mkfs.ext4. Without e2fsprogs the image cases are left out.
export GUEST_STORE=
if "$TANDEM" --state-root "$scratch/store" image disk localhost/tandem/busybox >/dev/null; then
  GUEST_STORE=$scratch/store
fi
# The same image as an archive podman loads, for the case of podman driving tandem-oci.
export PODMAN_IMAGE_ARCHIVE=
if [[ -n $GUEST_STORE ]] && command -v podman >/dev/null &&
  "$TANDEM" --state-root "$GUEST_STORE" save -o "$scratch/busybox.tar" localhost/tandem/busybox; then
  PODMAN_IMAGE_ARCHIVE=$scratch/busybox.tar
fi
if kvm_usable; then
  exec "$here/cases.sh"
fi
if ! command -v qemu-system-x86_64 >/dev/null; then
  echo "1..0 # SKIP no usable /dev/kvm here and no qemu-system-x86_64 for the emulated KVM host"
  exit 0
fi

includes=(--include "$TANDEM" --include "$TANDEM_GUEST_INIT" --include "$TANDEM_VMM" --include "$TANDEM_PAUSE"
  --include "$TANDEM_OCI"
  --include "$TANDEM_GUEST_KERNEL"
  --include "$here" --include "$GUEST_ROOTFS" --include "$KVM_DEVICE_TEST"
  --include "$(command -v bash)")
[[ -z $GUEST_STORE ]] || includes+=(--include "$GUEST_STORE")
# e2fsprogs, for the volume cases: tandem copies a folder volume onto an ext4 disk, and the case
# reads the guest's write back from a disk volume.
for tool in mkfs.ext4 debugfs; do
  if path=$(command -v "$tool"); then
    includes+=(--include "$path")
  fi
done
# podman and conmon with their configuration, for podman driving tandem-oci at VM level.
if [[ -n $PODMAN_IMAGE_ARCHIVE ]] && command -v conmon >/dev/null; then
  includes+=(--include "$(command -v podman)" --include "$(command -v conmon)"
    --include "$PODMAN_IMAGE_ARCHIVE")
  for config in /etc/containers /usr/share/containers; do
    [[ -d $config ]] && includes+=(--include "$config")
  done
fi
# nft, for the bridge network's egress NAT: without it tandem warns at every bridge run.
if nft=$(command -v nft); then
  includes+=(--include "$nft")
fi
envs=(--env "TANDEM=$TANDEM" --env "TANDEM_GUEST_INIT=$TANDEM_GUEST_INIT" --env "TANDEM_VMM=$TANDEM_VMM"
  --env "TANDEM_PAUSE=$TANDEM_PAUSE" --env "TANDEM_OCI=$TANDEM_OCI"
  --env "TANDEM_GUEST_KERNEL=$TANDEM_GUEST_KERNEL" --env "GUEST_ROOTFS=$GUEST_ROOTFS"
  --env "KVM_DEVICE_TEST=$KVM_DEVICE_TEST" --env "GUEST_STORE=$GUEST_STORE"
  --env "PODMAN_IMAGE_ARCHIVE=$PODMAN_IMAGE_ARCHIVE")
if [[ -n ${TANDEM_GUEST_VMLINUX:-} && -f $TANDEM_GUEST_VMLINUX ]]; then
  includes+=(--include "$TANDEM_GUEST_VMLINUX")
  envs+=(--env "TANDEM_GUEST_VMLINUX=$TANDEM_GUEST_VMLINUX")
fi
exec "$KVM_HOST" --cpus "${VM_HOST_CPUS:-1}" --memory 4G --timeout "${VM_SUITE_TIMEOUT:-1500}" "${includes[@]}" \
  "${envs[@]}" -- "$(command -v bash)" "$here/cases.sh"

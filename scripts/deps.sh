#!/usr/bin/env bash
# Installs, from Debian's archive only, whatever tandem needs to build, test and benchmark that
# this machine lacks. Idempotent and quiet when nothing is missing.
set -euo pipefail

packages=(
  # build
  meson ninja-build pkg-config g++ libspdlog-dev libfmt-dev libboost-program-options-dev
  nlohmann-json3-dev libseccomp-dev libcap-dev libcmocka-dev
  zlib1g-dev liblzma-dev liblz4-dev libzstd-dev
  libarchive-dev libacl1-dev libbz2-dev nettle-dev libsqlite3-dev libcurl4-openssl-dev
  # the second, sanitized build and its fuzz targets (clang, and libFuzzer from its runtime)
  clang libclang-rt-14-dev
  # the test rootfs and the tools the tests drive
  busybox-static python3 procps iproute2 util-linux docker-registry skopeo umoci openssl
  # disks: image disks and folder volumes (mkfs.ext4), loop devices for disk volumes
  e2fsprogs mount
  # JSON checks in the tests (tandem ps --json)
  jq
  # the engines that drive tandem-oci as their OCI runtime in the tests
  podman conmon containerd
  # NAT for the bridge network's egress
  nftables
  # the microVM guest kernel (guest-kernel-config/build.sh): source tarball and its build tools
  linux-source-6.1 make gcc binutils flex bison bc libelf-dev libssl-dev xz-utils lz4
  # the emulated KVM host (tools/kvm-host): QEMU TCG, and what builds its initramfs
  qemu-system-x86 cpio kmod
  # tandem bench: the peers it measures beside tandem, its timer and its plots
  runc crun bubblewrap hyperfine gnuplot-nox
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
)

missing=()
for package in "${packages[@]}" "$@"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $EUID -ne 0 ]]; then
  echo "tandem: missing Debian packages: ${missing[*]}; run as root or install them" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

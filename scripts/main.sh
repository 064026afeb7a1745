#!/usr/bin/env bash
# The main job: installs what is missing, builds tandem, builds a busybox root filesystem, and
# runs a workload in a container made by tandem's own runtime, with every namespace and limits
# on memory, CPU and processes. What the workload prints shows the isolation it got.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh

rootfs=${TANDEM_DEMO_ROOTFS:-/var/lib/tandem/demo-rootfs}
if [[ ! -x $rootfs/bin/busybox ]]; then
  rm -rf "$rootfs"
  tools/mkrootfs/tandem-mkrootfs-busybox "$rootfs"
fi

exec build/tools/tandem run --isolation container --rootfs "$rootfs" --rm \
  --memory 64M --cpus 0.5 --pids-limit 64 --hostname demo -- /bin/sh -c '
    echo "hello from $(hostname): I am PID $$ and see $(ls -d /proc/[0-9]* | wc -l) process(es)"
    echo "network interfaces: $(ls /sys/class/net | tr "\n" " ")"
    echo "capabilities: $(grep CapEff /proc/self/status | cut -f2), seccomp mode $(grep "^Seccomp:" /proc/self/status | cut -f2)"
    echo "root filesystem: $(touch /written-here && echo "writable, into a private layer")"
    swapon /dev/null 2>/dev/null || echo "swapon is refused by the seccomp filter, as it should be"
  '

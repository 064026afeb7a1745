#!/bin/sh
# /init of the emulated KVM host that tandem-kvm-host boots (run by busybox sh as PID 1).
#
# PID 1 must never return (the kernel would panic), so every path ends by writing to QEMU's
# isa-debug-exit port, which ends QEMU at once with exit status (value << 1) | 1. The launcher
# knows these two values:
#   0x20 (QEMU exits 65): finished; the status line on the "status" port says how.
#   0x21 (QEMU exits 67): init could not use the status port; the console (ttyS0) says why.
# The COMMAND's status (0-255) cannot travel in QEMU's exit status, which keeps only 7 bits of
# the value, hence the separate virtio port.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root

debug_exit() {
  # /dev/port maps file offsets to I/O ports: one byte written at 0xf4 is an outb there.
  # shellcheck disable=SC2059  # $1 is an octal escape, meant for the format
  printf "\\$1" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
  # Only reached without isa-debug-exit; QEMU still exits (-no-reboot) and the launcher
  # reports a host that ended without a status.
  poweroff -f
  sleep 1000000
}

fail_early() {
  echo "kvm-host init: $*" >/dev/console
  dmesg | tail -n 20 >/dev/console
  debug_exit 041
}

mount -t devtmpfs devtmpfs /dev || fail_early "cannot mount devtmpfs on /dev"
# The kernel found no /dev/console in the archive, so PID 1 started without stdio.
exec </dev/null >/dev/console 2>&1
# Marks in the kernel log (not on the console at loglevel=3), to time the boot from inside.
echo "kvm-host init: started" >/dev/kmsg

# The initramfs's root is a tmpfs, world-writable (1777) unless told otherwise.
chmod 0755 /
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t debugfs debugfs /sys/kernel/debug
# As on any systemd host: containers run here too (tandem's container runtime needs cgroups).
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up
# The initramfs may already hold included files under /tmp or /run: they move to the tmpfs.
mount_tmpfs() {
  set -- "$1" "$2" "$1"/* "$1"/.[!.]*
  if [ $# -eq 4 ] && [ ! -e "$3" ] && [ ! -e "$4" ]; then
    mount -t tmpfs -o "mode=$2" tmpfs "$1"
  else
    mkdir -p /kvm-host/tmpfs
    mount -t tmpfs -o "mode=$2" tmpfs /kvm-host/tmpfs
    cp -a "$1"/. /kvm-host/tmpfs/
    mount -o move /kvm-host/tmpfs "$1"
  fi
}
mount_tmpfs /tmp 1777
mount_tmpfs /run 0755
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr

# Dependencies come first in this list: busybox insmod does not resolve them.
while read -r module; do
  insmod "/kvm-host/modules/$module.ko" || fail_early "insmod $module failed"
done </kvm-host/modules.order

# virtio_console adds its ports from a work queue after the module is loaded, so they show up
# a little later; under TCG "a little" can be long. Builtins only in this loop: every process
# started costs tens of milliseconds here.
find_ports() {
  status_port='' stdout_port='' stderr_port=''
  for port in /sys/class/virtio-ports/*; do
    if [ ! -r "$port/name" ] || [ ! -c "/dev/${port##*/}" ]; then
      continue
    fi
    read -r name <"$port/name"
    case $name in
      status | stdout | stderr) eval "${name}_port=/dev/${port##*/}" ;;
    esac
  done
  [ -n "$status_port" ] && [ -n "$stdout_port" ] && [ -n "$stderr_port" ]
}
tries=0
until find_ports; do
  tries=$((tries + 1))
  [ "$tries" -lt 600 ] || fail_early "the virtio ports status, stdout and stderr did not appear"
  sleep 0.05
done
exec 3>"$status_port"
echo "kvm-host init: modules loaded, ports ready" >/dev/kmsg

report() {
  echo "exit $1" >&3
  debug_exit 040
}

if [ ! -c /dev/kvm ]; then
  {
    echo "tandem-kvm-host: /dev/kvm did not appear in the emulated host after loading" \
      "$(tr '\n' ' ' </kvm-host/modules.order); kernel log:"
    dmesg | tail -n 20
  } >"$stderr_port"
  report 125
fi

# Sets workdir, exports the --env variables and sets "$@" to COMMAND; written by the launcher
# with every value single-quoted. A failing "." would end this shell, and PID 1 with it.
if [ ! -r /kvm-host/command.sh ]; then
  echo "tandem-kvm-host: /kvm-host/command.sh is missing from the initramfs" >"$stderr_port"
  report 125
fi
# shellcheck source=/dev/null
. /kvm-host/command.sh

stdin=/dev/null
[ -f /kvm-host/stdin ] && stdin=/kvm-host/stdin

echo started >&3
status=0
(
  # shellcheck disable=SC2154  # set by command.sh
  cd "$workdir" 2>/dev/null || {
    echo "tandem-kvm-host: cannot cd to $workdir inside the emulated host (was it included?)" >&2
    exit 125
  }
  command -v "$1" >/dev/null || {
    echo "tandem-kvm-host: $1: not found inside the emulated host (was it included?)" >&2
    exit 127
  }
  exec "$@"
) <"$stdin" >"$stdout_port" 2>"$stderr_port" 3>&- || status=$?
report "$status"

#!/bin/bash
# -v: a host folder or file bound into the container, read-write or read-only; a file holding ext4
# mounted through a loop device (disk); mount points made in the writable layer, even under
# --read-only, never in the rootfs folder; symlinks in the rootfs resolved inside it; and the
# refusals: /proc and /sys, missing host paths, a disk that is not ext4. Nothing stays mounted or
# attached on the host.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces, cgroups and loop devices"
need_tools mkfs.ext4 debugfs losetup
make_rootfs

host=$SCRATCH/host
mkdir -p "$host/data"
echo hello >"$host/data/greeting"
echo single >"$host/single"

tandem_run -v "$host/data:/srv/data" -v "$host/single:/etc/single:ro" -- /bin/sh -c \
  'cat /srv/data/greeting /etc/single && echo written >/srv/data/new &&
   if echo x >/etc/single; then echo wrote-ro; fi'
assert_status 0 "a run with a folder and a read-only file volume"
assert_eq $'hello\nsingle' "$out" "what the volumes show"
assert_eq "written" "$(<"$host/data/new")" "a write through the read-write volume, on the host"
assert_eq "single" "$(<"$host/single")" "the read-only file volume on the host"
[[ $err == *"Read-only file system"* ]] || fail "writing a read-only volume: $err"
[[ ! -e $ROOTFS/srv && ! -e $ROOTFS/etc/single ]] || fail "mount points reached the rootfs folder"

tandem_run --read-only -v "$host/data:/deep/er/data:ro" -- /bin/sh -c \
  'cat /deep/er/data/greeting; touch /deep/er/data/x /newfile 2>&1 | wc -l'
assert_status 0 "a read-only root with a mount point it lacked"
assert_eq $'hello\n2' "$out" "a read-only volume under a read-only root"

# A symlink in the image pointing out of the root leads to the same path inside it, not to the
# host's.
ln -s /../../../../etc "$ROOTFS/escape"
tandem_run -v "$host/data:/escape/$MARKER" -- /bin/sh -c "ls /etc/$MARKER"
assert_status 0 "a volume through a symlink in the rootfs"
assert_eq $'greeting\nnew' "$out" "the volume where the symlink leads inside the root"
[[ ! -e /etc/$MARKER ]] || fail "the mount point was made on the host, through the symlink"

truncate -s 16M "$SCRATCH/disk.ext4"
mkfs.ext4 -q -d "$host/data" "$SCRATCH/disk.ext4"
tandem_run -v "$SCRATCH/disk.ext4:/disk:disk" -- /bin/sh -c \
  'cat /disk/greeting && echo on-disk >/disk/added && grep " /disk " /proc/mounts | cut -d" " -f3,4'
assert_status 0 "a disk volume"
assert_match $'^hello\next4 rw' "$out" "the disk volume's files and mount"
assert_eq "on-disk" "$(debugfs -R 'cat /added' "$SCRATCH/disk.ext4" 2>/dev/null)" \
  "the disk volume's write, read from its file"
tandem_run -v "$SCRATCH/disk.ext4:/disk:ro,disk" -- /bin/sh -c 'touch /disk/x'
[[ $status != 0 && $err == *"Read-only file system"* ]] || fail "writing a read-only disk volume"

tandem_run -v "$host/single:/disk:disk" -- /bin/true
assert_runtime_error "a disk volume that holds no ext4"
[[ $err == *"as ext4"* ]] || fail "the error names the problem: $err"
tandem_run -v "$host/data:/proc/x" -- /bin/true
assert_runtime_error "a volume over /proc"
[[ $err == *"may not cover /proc/x"* ]] || fail "the error names /proc: $err"
tandem_run -v "$host/missing:/m" -- /bin/true
assert_runtime_error "a volume whose host path is missing"
[[ $err == *"$host/missing"* ]] || fail "the error names the missing path: $err"
tandem_run -v "$host/single:/etc" -- /bin/true
assert_runtime_error "a file volume over a folder"
tandem_run -v relative:/x -- /bin/true
assert_runtime_error "a relative host path"

! grep -q "$MARKER" /proc/self/mountinfo || fail "a volume stayed mounted on the host"
# The kernel may let go of an autoclear loop device a moment after its last mount is gone.
no_loop_left() { [[ -z $(losetup -j "$SCRATCH/disk.ext4") ]]; }
until_true 5 no_loop_left || fail "a loop device stayed attached to the disk volume"

#!/bin/bash
# tandem image disk: a stored image's flattened layers as an ext4 disk, made by mkfs.ext4 -d and
# cached per image. e2fsck finds the file system clean, debugfs reads a file of the upper layer,
# the mounted disk holds the tree `tandem image unpack` gives, a second call reuses the disk, and
# tandem rmi removes it with the image.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
: "${MKIMAGE:?MKIMAGE must name tandem-mkimage (meson sets it)}"
need_root "the store unpacks owners and device nodes as they are stored"
for tool in mkfs.ext4 e2fsck debugfs; do
  command -v "$tool" >/dev/null || skip "needs $tool (e2fsprogs)"
done

state=$SCRATCH/state
tandem() {
  "$TANDEM" --state-root "$state" "$@"
}

# A base layer with a little of everything, and an upper layer that replaces a file.
make_rootfs
ln "$ROOTFS/etc/passwd" "$ROOTFS/etc/passwd-"
mkfifo "$ROOTFS/tmp/fifo"
mknod -m 0640 "$ROOTFS/dev/null" c 1 3
ln -s "$(printf 'long/%.0s' {1..20})target" "$ROOTFS/tmp/long-link"
echo data >"$ROOTFS/home/tandem/owned"
chown 1000:1000 "$ROOTFS/home/tandem/owned"
mkdir -p "$SCRATCH/upper/srv"
echo "from the upper layer" >"$SCRATCH/upper/srv/message"
"$MKIMAGE" --output "$SCRATCH/layout" "$ROOTFS" "$SCRATCH/upper" >/dev/null
tandem load -i "$SCRATCH/layout" -t localhost/disk/test:1 >/dev/null

disk=$(tandem image disk localhost/disk/test:1) || fail "tandem image disk failed"
[[ -f $disk ]] || fail "tandem image disk printed '$disk', which is no file"
assert_match "^$state/disks/[0-9a-f]{64}\.ext4$" "$disk" "the disk's place in the store"
e2fsck -fn "$disk" >"$SCRATCH/fsck" 2>&1 || fail "e2fsck: $(cat "$SCRATCH/fsck")"
assert_eq "from the upper layer" "$(debugfs -R 'cat /srv/message' "$disk" 2>/dev/null)" \
  "a file of the upper layer"

# Mounted read-only through a loop device (debugfs rdump would drop FIFOs, device nodes and the
# sticky bit), and compared without ext4's own lost+found.
mkdir "$SCRATCH/mnt"
mount -o loop,ro,noload "$disk" "$SCRATCH/mnt" || fail "cannot mount $disk through a loop device"
at_exit umount "$SCRATCH/mnt"
tandem image unpack localhost/disk/test:1 "$SCRATCH/unpacked"
mkdir -m 0700 "$SCRATCH/unpacked/lost+found"
same_tree "the disk's files" "$SCRATCH/unpacked" "$SCRATCH/mnt"
umount "$SCRATCH/mnt"

before=$(stat -c '%i %Y' "$disk")
assert_eq "$disk" "$(tandem image disk localhost/disk/test:1)" "a second call"
assert_eq "$before" "$(stat -c '%i %Y' "$disk")" "the cached disk, untouched by a second call"
[[ -z $(find "$state/disks" -name '*.tmp-*') ]] || fail "a temporary disk was left behind"

tandem rmi localhost/disk/test:1 >/dev/null
[[ ! -e $disk ]] || fail "tandem rmi left the image's disk behind"

if tandem image disk localhost/disk/test:1 >"$SCRATCH/out" 2>&1; then
  fail "tandem image disk of a removed image succeeded"
fi

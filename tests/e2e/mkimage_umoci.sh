#!/bin/bash
# Images tandem-mkimage builds are ones other tools read, and images other tools build are ones
# tandem reads, file for file:
#  - umoci unpacks a tandem-mkimage layout to the same tree `tandem image unpack` gives;
#  - a two-layer umoci image whose second layer deletes a file and replaces a directory
#    (whiteouts) unpacks in tandem as in umoci;
#  - skopeo's docker-archive copy of the tandem-mkimage image loads and unpacks the same again;
#  - tandem run loads the embedded busybox image into an empty store.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
: "${MKIMAGE:?MKIMAGE must name tandem-mkimage (meson sets it)}"
need_root "umoci and tandem unpack owners and device nodes as they are stored"
need_tools umoci skopeo sha256sum

state=$SCRATCH/state
tandem() {
  "$TANDEM" --state-root "$state" "$@"
}

# A rootfs with a little of everything: busybox and its applet links, a setuid file, two names
# of one inode, a FIFO, a device node, a file of another owner, an empty directory.
make_rootfs
cp "$ROOTFS/bin/busybox" "$ROOTFS/bin/suid"
chmod 4755 "$ROOTFS/bin/suid"
ln "$ROOTFS/etc/passwd" "$ROOTFS/etc/passwd-"
mkfifo "$ROOTFS/tmp/fifo"
mknod -m 0666 "$ROOTFS/dev/null" c 1 3
echo data >"$ROOTFS/home/tandem/owned"
chown 1000:1000 "$ROOTFS/home/tandem/owned"
mkdir -m 0750 "$ROOTFS/srv"

ref=localhost/e2e/mkimage:1
"$MKIMAGE" --tag "$ref" --cmd sh --env PATH=/bin --output "$SCRATCH/oci" "$ROOTFS" >/dev/null
"$MKIMAGE" --tag "$ref" --cmd sh --env PATH=/bin --output "$SCRATCH/image.tar" "$ROOTFS" >/dev/null

# 1. tandem-mkimage -> umoci, and -> tandem.
umoci unpack --image "$SCRATCH/oci:$ref" "$SCRATCH/bundle" >/dev/null
tandem load -i "$SCRATCH/image.tar" >/dev/null
tandem image unpack "$ref" "$SCRATCH/tandem-tree"
same_tree "umoci and tandem unpacking a tandem-mkimage image" \
  "$SCRATCH/bundle/rootfs" "$SCRATCH/tandem-tree"
same_tree "the image against its source folder" "$ROOTFS" "$SCRATCH/tandem-tree"

# 2. umoci -> tandem, with whiteouts: the second layer removes a file and replaces a directory.
umoci init --layout "$SCRATCH/umoci"
umoci new --image "$SCRATCH/umoci:app"
umoci unpack --image "$SCRATCH/umoci:app" "$SCRATCH/build" >/dev/null
mkdir -p "$SCRATCH/build/rootfs/"{bin,data/sub,keep}
cp "$ROOTFS/bin/busybox" "$SCRATCH/build/rootfs/bin/"
echo gone >"$SCRATCH/build/rootfs/keep/deleted"
echo stays >"$SCRATCH/build/rootfs/keep/kept"
echo old >"$SCRATCH/build/rootfs/data/sub/old"
umoci repack --image "$SCRATCH/umoci:app" "$SCRATCH/build" >/dev/null
# A repack diffs against the bundle's own unpack: a second layer needs a fresh bundle.
umoci unpack --image "$SCRATCH/umoci:app" "$SCRATCH/build2" >/dev/null
rm "$SCRATCH/build2/rootfs/keep/deleted"
rm -r "$SCRATCH/build2/rootfs/data"
mkdir -p "$SCRATCH/build2/rootfs/data"
echo new >"$SCRATCH/build2/rootfs/data/new"
umoci repack --image "$SCRATCH/umoci:app" "$SCRATCH/build2" >/dev/null
layers=$(umoci stat --image "$SCRATCH/umoci:app" --json |
  python3 -c 'import json, sys; print(sum(1 for h in json.load(sys.stdin)["history"] if not h.get("empty_layer")))')
assert_eq 2 "$layers" "layers of the umoci image"

umoci unpack --image "$SCRATCH/umoci:app" "$SCRATCH/umoci-bundle" >/dev/null
tandem load -i "$SCRATCH/umoci" -t localhost/e2e/umoci:1 >/dev/null
tandem image unpack localhost/e2e/umoci:1 "$SCRATCH/umoci-tandem"
[[ ! -e $SCRATCH/umoci-tandem/keep/deleted && ! -e $SCRATCH/umoci-tandem/data/sub ]] ||
  fail "tandem kept what the second layer deleted"
same_tree "umoci and tandem unpacking a two-layer umoci image" \
  "$SCRATCH/umoci-bundle/rootfs" "$SCRATCH/umoci-tandem"

# 3. tandem-mkimage -> skopeo's docker-archive (docker save's format) -> tandem.
skopeo copy --quiet "oci:$SCRATCH/oci:$ref" "docker-archive:$SCRATCH/docker.tar:localhost/e2e/docker:1"
tandem load -i "$SCRATCH/docker.tar" >/dev/null
tandem image unpack localhost/e2e/docker:1 "$SCRATCH/docker-tandem"
same_tree "tandem unpacking skopeo's docker-archive copy" "$SCRATCH/tandem-tree" \
  "$SCRATCH/docker-tandem"

# 4. The embedded image: a store that lacks it loads it from beside tandem, with no registry.
if [[ -f $(dirname "$TANDEM")/mkimage/busybox-image.tar ]]; then
  out=$(timeout --kill-after=5 30 "$TANDEM" --state-root "$SCRATCH/fresh" run --pull never \
    --isolation container --rm localhost/tandem/busybox echo embedded </dev/null)
  assert_eq embedded "$out" "tandem run localhost/tandem/busybox on an empty store"
fi

echo "PASS: mkimage images round-trip through umoci and skopeo"

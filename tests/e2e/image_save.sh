#!/bin/bash
# tandem save writes what other tools read, and what tandem load reads back:
#  - an oci-archive loads into a fresh store as the same image id with the same tag;
#  - to stdout it is the same bytes as with -o;
#  - umoci unpacks the oci-dir form to the tree `tandem image unpack` gives;
#  - skopeo reads the archive as a docker-archive (through manifest.json) and as an
#    oci-archive (through index.json);
#  - an image that does not exist fails with 125 and writes nothing.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
: "${MKIMAGE:?MKIMAGE must name tandem-mkimage (meson sets it)}"
need_root "the store unpacks owners and device nodes as they are stored"
need_tools umoci skopeo sha256sum python3

# The store saved from, and a fresh one the archive is loaded into.
saved=$SCRATCH/saved-store
fresh=$SCRATCH/fresh-store
in_store() {
  local root=$1
  shift
  "$TANDEM" --state-root "$root" "$@"
}

# A busybox base layer and an upper layer that replaces a file of it.
make_rootfs
mkdir -p "$SCRATCH/upper/srv" "$SCRATCH/upper/etc"
echo "from the upper layer" >"$SCRATCH/upper/srv/message"
echo saved >"$SCRATCH/upper/etc/hostname"
"$MKIMAGE" --output "$SCRATCH/image.tar" --tag built:1 --cmd sh "$ROOTFS" "$SCRATCH/upper" \
  >/dev/null
# The tag as index.json records it, whole: umoci and skopeo's oci: transports take the name after
# the layout path's first ':' as it stands, so `DIR:localhost/save/test:1` finds it, and tandem
# load and containerd read a whole reference from it. A bare "1" would name no repository.
ref=localhost/save/test:1
in_store "$saved" load -i "$SCRATCH/image.tar" -t "$ref" >/dev/null
id=$(in_store "$saved" images -q --no-trunc)

# 1. An archive loads back as the same image, and stdout gets the same bytes.
in_store "$saved" save -o "$SCRATCH/out.tar" "$ref"
in_store "$fresh" load -i "$SCRATCH/out.tar" >/dev/null
assert_eq "$id" "$(in_store "$fresh" images -q --no-trunc)" \
  "the image id after a save and a load"
# Only the tag named, as docker save records it: not the image's other tag, built:1.
tags=$(in_store "$fresh" image inspect "$id" |
  python3 -c 'import json, sys; print(" ".join(json.load(sys.stdin)[0]["RepoTags"]))')
assert_eq "$ref" "$tags" "the loaded image's tags"
in_store "$saved" save "$ref" >"$SCRATCH/out2.tar"
cmp "$SCRATCH/out.tar" "$SCRATCH/out2.tar" || fail "save to stdout and save -o differ"

# 2. umoci unpacks the folder form as tandem unpacks the image.
in_store "$saved" save --format oci-dir -o "$SCRATCH/dir" "$ref"
umoci unpack --image "$SCRATCH/dir:$ref" "$SCRATCH/bundle" >/dev/null
in_store "$saved" image unpack "$ref" "$SCRATCH/tandem-tree"
same_tree "umoci unpacking tandem save's folder, against tandem image unpack" \
  "$SCRATCH/bundle/rootfs" "$SCRATCH/tandem-tree"
status=0
in_store "$saved" save --format oci-dir -o "$SCRATCH/dir" "$ref" 2>"$SCRATCH/err" || status=$?
assert_eq 125 "$status" "saving a folder over an existing one"

# 3. skopeo reads the archive through both of its indexes.
skopeo inspect "docker-archive:$SCRATCH/out.tar" >/dev/null || fail "skopeo inspect docker-archive"
skopeo copy --quiet "docker-archive:$SCRATCH/out.tar" "oci:$SCRATCH/dir2:x" ||
  fail "skopeo copy docker-archive"
skopeo inspect "oci-archive:$SCRATCH/out.tar:$ref" >/dev/null || fail "skopeo inspect oci-archive"

# 4. No image, no file.
status=0
in_store "$saved" save -o "$SCRATCH/none.tar" localhost/save/none:1 2>"$SCRATCH/err" || status=$?
assert_eq 125 "$status" "saving an image that does not exist"
[[ ! -e $SCRATCH/none.tar ]] || fail "a failed save left $SCRATCH/none.tar"
[[ -z $(find "$SCRATCH" -maxdepth 1 -name '*.tmp-*') ]] || fail "a save left a temporary file"

echo "PASS: tandem save round-trips through tandem load, umoci and skopeo"

#!/bin/bash
# tandem load and tandem run IMAGE in a container: an OCI layout made by umoci, two layers (the
# second deletes a file of the first), the image's Cmd, Env and WorkingDir, the user's overrides,
# and the image verbs around them. The vm suite runs the same image config in a microVM and
# expects the same lines. A damaged layout registers nothing.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces, cgroups and overlay mounts"
command -v umoci >/dev/null || skip "umoci is not installed (scripts/deps.sh installs it)"

make_rootfs
echo "from the first layer" >"$ROOTFS/etc/motd"
mkdir -p "$ROOTFS/srv"
layout=$SCRATCH/layout
bundle=$SCRATCH/bundle
umoci init --layout "$layout"
umoci new --image "$layout:1"
umoci unpack --image "$layout:1" "$bundle" >/dev/null
cp -a "$ROOTFS/." "$bundle/rootfs/"
umoci repack --image "$layout:1" "$bundle"
rm "$bundle/rootfs/etc/motd"
umoci repack --image "$layout:1" "$bundle"
umoci config --image "$layout:1" --config.cmd sh --config.cmd -c \
  --config.cmd 'echo "$GREETING from $(pwd)"' --config.env GREETING=hello \
  --config.env PATH=/bin:/sbin:/usr/bin --config.workingdir /srv
rm -rf "$bundle"
umoci gc --layout "$layout"  # drops the blobs of the intermediate image versions

state=$SCRATCH/state
image=localhost/e2e/busybox:1
t() { "$TANDEM" --state-root "$state" "$@"; }

before=$(host_snapshot)
out=$(t load -i "$layout" -t "$image")
assert_eq "Loaded image: $image" "$out" "tandem load"

status=0
out=$(t run --isolation container --rm "$image" </dev/null 2>"$SCRATCH/err") || status=$?
err=$(<"$SCRATCH/err")
assert_status 0 "tandem run IMAGE"
assert_eq "hello from /srv" "$out" "the image's Cmd, Env and WorkingDir"

status=0
out=$(t run --isolation container --rm -w / -e GREETING=hi "$image" \
  sh -c 'echo "$GREETING from $(pwd)"' </dev/null 2>"$SCRATCH/err") || status=$?
err=$(<"$SCRATCH/err")
assert_status 0 "tandem run IMAGE with overrides"
assert_eq "hi from /" "$out" "arguments, -e and -w override the image's"

status=0
t run --isolation container --rm "$image" test -e /etc/motd </dev/null 2>"$SCRATCH/err" ||
  status=$?
err=$(<"$SCRATCH/err")
assert_status 1 "a file the second layer deletes is gone"
assert_nothing_left "$before" "tandem run IMAGE"

listing=$(t images)
assert_match "localhost/e2e/busybox +1 +[0-9a-f]{12} " "$listing" "tandem images"
inspect=$(t image inspect "$image")
assert_match '"WorkingDir": "/srv"' "$inspect" "tandem image inspect"
[[ -n $(ls "$state/layers") ]] || fail "no unpacked layers under $state/layers"

out=$(t rmi "$image")
assert_match "Deleted: sha256:[0-9a-f]{64}" "$out" "tandem rmi"
[[ -z $(t images -q) ]] || fail "tandem images still lists an image after rmi"
t image prune >/dev/null
[[ -z $(ls "$state/layers") ]] || fail "tandem image prune left layer folders: $(ls "$state/layers")"

# A layer blob altered after its digest was taken: the load fails and registers nothing. A
# fresh store, since a store that holds the blob already has no need to read the archive's copy.
state=$SCRATCH/fresh-state
layer=$(find "$layout/blobs/sha256" -type f -size +100k | head -n 1)
printf 'X' | dd of="$layer" bs=1 seek=5000 conv=notrunc status=none
status=0
t load -i "$layout" -t "$image" >"$SCRATCH/out" 2>"$SCRATCH/err" || status=$?
out=$(<"$SCRATCH/out")
err=$(<"$SCRATCH/err")
assert_runtime_error "a damaged layout"
assert_match "digest" "$err" "the error names the digest mismatch"
[[ -z $(t images -q) ]] || fail "a damaged layout left an image behind"

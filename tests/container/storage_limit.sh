#!/bin/bash
# --storage-opt size=SIZE holds a container's writable layer to SIZE: a workload filling its own
# root gets ENOSPC near that size, the host's filesystem under the state root does not fill, and
# the workload goes on running. The layer, an ext4 file in the container's state folder, carries
# over a restart; no loop device or mount of it outlives the container, and rm takes the file.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces, cgroups and loop devices"
need_tools losetup jq
make_rootfs

# The first run fills its root and fails; its restart finds the file where the first run left it.
# shellcheck disable=SC2016 # expanded by the container's shell
fill='if [ -e /fill ]; then echo "kept $(wc -c </fill)"; exit 0; fi
dd if=/dev/zero of=/fill bs=1M count=200 2>/dev/null || echo "dd failed"
echo "filled $(wc -c </fill)"
echo "still running"
exit 1'
status=0
t run --isolation container --rootfs "$ROOTFS" --name filler --storage-opt size=64M \
  --restart on-failure:1 -- sh -c "$fill" </dev/null >"$SCRATCH/out" 2>"$SCRATCH/err" || status=$?
out=$(<"$SCRATCH/out")
err=$(<"$SCRATCH/err")
assert_status 0 "a workload filling a 64M writable layer, then restarted"
assert_match $'^dd failed\nfilled ([0-9]+)\nstill running\nkept ([0-9]+)$' "$out" \
  "filling the layer fails with the layer full, and the file carries over the restart"
filled=${BASH_REMATCH[1]}
kept=${BASH_REMATCH[2]}
mib=$((1024 * 1024))
# ext4's metadata and journal take a few MiB of the 64.
((filled >= 40 * mib && filled <= 64 * mib)) || fail "wrote $filled bytes into a 64M layer"
assert_eq "$filled" "$kept" "the filled file's size after the restart"

id=$(t inspect filler | jq -r '.[0].id')
[[ $id =~ ^[0-9a-f]{64}$ ]] || fail "no id for filler: $(t inspect filler)"
layer=$OWN_STATE/containers/$id/layer.img
[[ -f $layer ]] || fail "no layer file at $layer"
assert_eq $((64 * mib)) "$(stat -c %s "$layer")" "the layer file's size"
# Sparse: what it takes of the host's disk is what the workload wrote, plus ext4's own.
allocated=$(($(stat -c %b "$layer") * $(stat -c %B "$layer")))
((allocated <= 64 * mib)) || fail "the 64M layer takes $allocated bytes of the host's disk"
assert_eq "" "$(losetup -j "$layer")" "loop devices still holding the layer"
assert_eq "" "$(grep -F "$id" /proc/self/mountinfo || true)" "mounts of the container left"

t rm filler >/dev/null
[[ ! -e $layer ]] || fail "rm left the layer file $layer"

tandem_run --storage-opt size=1M -- true
assert_runtime_error "a layer too small for its filesystem"
[[ $err == *"at least 16M"* ]] || fail "a 1M layer: $err"
tandem_run --storage-opt inodes=10 -- true
assert_runtime_error "a storage option tandem does not have"
[[ $err == *"size=SIZE"* ]] || fail "--storage-opt inodes: $err"

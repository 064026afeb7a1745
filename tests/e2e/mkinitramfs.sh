#!/bin/bash
# tandem-mkinitramfs packs a rootfs folder into an archive GNU cpio reads back whole, and refuses
# bad arguments with one line, leaving no file behind.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
: "${MKINITRAMFS:?MKINITRAMFS must name tandem-mkinitramfs (meson sets it)}"
command -v cpio >/dev/null || skip "needs GNU cpio to read the archive back"

make_rootfs
archive=$SCRATCH/rootfs.cpio
"$MKINITRAMFS" "$ROOTFS" "$archive" >/dev/null
mkdir "$SCRATCH/unpacked"
(cd "$SCRATCH/unpacked" && cpio -idm --quiet <"$archive")
diff -r --no-dereference "$ROOTFS" "$SCRATCH/unpacked" >&2 ||
  fail "the unpacked archive differs from the rootfs folder"
assert_eq "-rw-------" "$(stat -c %A "$archive")" "the archive, which holds the whole rootfs, is private"

refuse() {
  local what=$1 output=$2
  shift 2
  status=0
  "$MKINITRAMFS" "$@" "$output" >"$SCRATCH/out" 2>"$SCRATCH/err" || status=$?
  [[ $status != 0 ]] || fail "$what: accepted"
  [[ $(wc -l <"$SCRATCH/err") == 1 && $(<"$SCRATCH/err") == tandem-mkinitramfs:* ]] ||
    fail "$what: stderr must be one 'tandem-mkinitramfs:' line, got: $(<"$SCRATCH/err")"
  [[ ! -e $output ]] || fail "$what: left $output behind"
}
refuse "an output inside the rootfs" "$ROOTFS/self.cpio" "$ROOTFS"
refuse "a rootfs that does not exist" "$SCRATCH/missing.cpio" "$SCRATCH/no-such-folder"
refuse "a rootfs that is a file" "$SCRATCH/file.cpio" "$archive"
# The archive is written to "OUTPUT.tmp-XXXXXX" and renamed into place.
leftovers=$(find "$SCRATCH" "$ROOTFS" -maxdepth 1 -name '*.tmp-*')
[[ -z $leftovers ]] || fail "temporary files left behind: $leftovers"

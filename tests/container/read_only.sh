#!/bin/bash
# --read-only makes the root unwritable; without it the workload may write, but its writes never
# reach the rootfs folder it was started from.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
make_rootfs

tandem_run --read-only -- /bin/sh -c 'echo x >/written'
[[ $status != 0 ]] || fail "a write to / succeeded under --read-only"
[[ ! -e $ROOTFS/written ]] || fail "the rootfs folder gained /written under --read-only"

passwd_before=$(<"$ROOTFS/etc/passwd")
tandem_run -- /bin/sh -c 'echo x >/written && cat /written && echo changed >/etc/passwd && rm /bin/ls'
assert_status 0 "writes without --read-only"
assert_eq "x" "$out" "the container reading back its write"
[[ ! -e $ROOTFS/written ]] || fail "a new file reached the rootfs folder"
assert_eq "$passwd_before" "$(<"$ROOTFS/etc/passwd")" "/etc/passwd in the rootfs folder"
[[ -L $ROOTFS/bin/ls ]] || fail "a deletion reached the rootfs folder"

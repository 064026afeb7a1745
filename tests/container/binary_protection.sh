#!/bin/bash
# The CVE-2019-5736 class: nothing can reach tandem's binary on the host through /proc/PID/exe.
# The container's tandem processes run from a read-only view of the binary, so the link leads to
# a file that cannot be written; from inside, the --init's link cannot even be followed.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
make_rootfs

before=$(sha256sum <"$TANDEM")
tandem_start --rm --init -- /bin/sh -c "
  if readlink /proc/1/exe >/dev/null 2>&1; then echo exe-visible; else echo exe-hidden; fi
  if cat /proc/1/exe >/dev/null 2>&1; then echo exe-readable; else echo exe-denied; fi
  if printf x >>/proc/1/exe 2>/dev/null; then echo exe-writable; else echo exe-unwritable; fi
  echo ready; exec $IN_PROBE sleep 60 $MARKER"
wait_for_output '^ready' 20
lines=$(<"$SCRATCH/out")
[[ $lines == *exe-hidden* ]] || fail "the workload could follow its init's executable link: $lines"
[[ $lines == *exe-denied* ]] || fail "the workload could read its init's executable: $lines"
[[ $lines == *exe-unwritable* ]] || fail "the workload could write its init's executable: $lines"

# The attack itself, played from the host with every privilege: hold the container init's
# executable open, wait for tandem to finish, then reopen it for writing, as CVE-2019-5736 did.
# The init runs from a read-only view of tandem, so the reopen fails and the binary is intact.
workload=$(pid_of_command "$IN_PROBE sleep 60 $MARKER") || fail "cannot find the workload on the host"
init=$(awk '/^PPid:/ { print $2 }' "/proc/$workload/status")
[[ $(readlink "/proc/$init/exe") != "$(readlink -f "$TANDEM")" ]] ||
  fail "the container's init runs from tandem's own file"
exec 5<"/proc/$init/exe"
kill -TERM "$TANDEM_PID"
tandem_wait 20
if (printf x >>"/proc/self/fd/5") 2>/dev/null; then
  fail "the init's executable could be reopened for writing after the container ended"
fi
exec 5<&-
assert_eq "$before" "$(sha256sum <"$TANDEM")" "tandem's binary on disk"

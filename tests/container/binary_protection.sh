#!/bin/bash
# The CVE-2019-5736 class: nothing can reach tandem's binary on the host through /proc/PID/exe.
# tandem runs from a sealed in-memory copy of itself, so the link leads to a file that cannot be
# written; the container's own tandem process (the --init) cannot even be opened from inside.
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

# From the host, with every privilege: the container's init, the one tandem process inside the
# container, runs from the sealed copy, and writes to it are refused.
workload=$(pid_of_command "$IN_PROBE sleep 60 $MARKER") || fail "cannot find the workload on the host"
init=$(awk '/^PPid:/ { print $2 }' "/proc/$workload/status")
exe=$(readlink "/proc/$init/exe")
[[ $exe == */memfd:tandem* ]] || fail "the container's init runs from $exe, not from a sealed copy"
if printf x >>"/proc/$init/exe" 2>/dev/null; then
  fail "root on the host could append to the init's executable through /proc/PID/exe"
fi
kill -TERM "$TANDEM_PID"
tandem_wait 20
assert_eq "$before" "$(sha256sum <"$TANDEM")" "tandem's binary on disk"

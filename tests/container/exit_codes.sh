#!/bin/bash
# tandem exits with the workload's status, and with 128+N when a signal N killed it.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
make_rootfs

for code in 0 3 42; do
  tandem_run -- "$IN_PROBE" exit "$code"
  assert_status "$code" "probe exit $code"
done

# A pid namespace's init cannot kill itself with a default-action signal, so these need --init
# to make the shell an ordinary process.
tandem_run --init -- /bin/sh -c 'kill -KILL $$'
assert_status 137 "a shell that SIGKILLs itself"
tandem_run --init -- /bin/sh -c 'kill -TERM $$'
assert_status 143 "a shell that SIGTERMs itself"
tandem_run --init -- "$IN_PROBE" signal 6
assert_status 134 "a probe that raises SIGABRT"

# Without --init the workload is PID 1: here the signal comes from the host, which the kernel does
# deliver to a namespace's init.
tandem_start --rm -- "$IN_PROBE" sleep 60 "$MARKER"
wait_for_output '^sleeping' 20
workload_pid=$(pid_of_command "$IN_PROBE sleep 60 $MARKER") || fail "cannot find the workload on the host"
kill -KILL "$workload_pid"
tandem_wait 20
assert_status 137 "a workload SIGKILLed from the host"

#!/bin/bash
# A run leaves nothing behind: no workload process, no cgroup, no host mount, and with --rm no
# state directory; not after a normal exit, and not after the workload's monitor is SIGKILLed
# mid-run. A SIGKILLed tandem, on the other hand, loses nothing: its workload runs on under the
# monitor, and its end is recorded.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
make_rootfs

# start_and_identify ARGS...: starts tandem with a sleeping probe and sets ID from the one state
# directory that appeared, checking the run's cgroups are where the contract puts them.
start_and_identify() {
  local before during added found
  before=$(host_snapshot)
  tandem_start "$@"
  wait_for_output '^sleeping' 20
  during=$(host_snapshot)
  added=$(comm -13 <(echo "$before") <(echo "$during"))
  ID=$(grep "^$STATE_ROOT/" <<<"$added" | xargs -r -n1 basename)
  [[ -n $ID && $ID != *$'\n'* ]] || fail "expected one new directory under $STATE_ROOT, got: $added"
  grep -q "/tandem/$ID\$" <<<"$added" || fail "no cgroup named tandem/$ID during the run: $added"
  found=$(grep -F -e "$ROOTFS" -e "$ID" /proc/self/mountinfo || true)
  [[ -z $found ]] || fail "the run mounted in the host's mount namespace: $found"
}

no_leftovers() {
  [[ -z $(leftovers "$@") ]]
}

# Without --rm the state directory stays and everything else goes.
before=$(host_snapshot)
start_and_identify --memory 64M --pids-limit 50 -- "$IN_PROBE" sleep 2 "$MARKER"
at_exit rm -rf --one-file-system -- "${STATE_ROOT:?}/$ID"
tandem_wait 20
assert_status 0 "a run without --rm"
[[ -d $STATE_ROOT/$ID ]] || fail "without --rm the state directory $STATE_ROOT/$ID must stay"
[[ -f $WORKLOADS_ROOT/$ID/log ]] || fail "without --rm the workload's log must stay"
"$TANDEM" rm "$ID" >/dev/null || fail "tandem rm $ID"
assert_nothing_left "$before" "a run without --rm" "$ID"

before=$(host_snapshot)
start_and_identify --rm --memory 64M --pids-limit 50 -- "$IN_PROBE" sleep 2 "$MARKER"
tandem_wait 20
assert_status 0 "a run with --rm"
assert_nothing_left "$before" "a run with --rm" "$ID"

# SIGKILL gives the monitor no chance to clean up in that process; whatever cleans up instead gets
# a few seconds. The tandem attached to it hears that the monitor ended without a word.
before=$(host_snapshot)
start_and_identify --rm --memory 64M --pids-limit 50 -- "$IN_PROBE" sleep 600 "$MARKER"
monitor=$(monitor_pid) || fail "no tandem-monitor runs the workload"
kill -KILL "$monitor"
tandem_wait 20
assert_runtime_error "tandem whose monitor was killed"
[[ $err == *"monitor"*"ended without saying"* ]] || fail "tandem's word on its killed monitor: $err"
# The next command marks the record lost and says so; tandem rm takes the record and its log.
"$TANDEM" ps -a >/dev/null 2>"$SCRATCH/ps.err" || fail "tandem ps after a killed monitor"
[[ $(<"$SCRATCH/ps.err") == *"${ID:0:12} was lost: its monitor"* ]] ||
  fail "the next command's word on the lost workload: $(<"$SCRATCH/ps.err")"
removed_and_clean() {
  "$TANDEM" rm "$ID" >/dev/null 2>&1
  no_leftovers "$before" "$ID"
}
until_true 10 removed_and_clean || true
assert_nothing_left "$before" "10 s after SIGKILL to the monitor, and tandem rm" "$ID"

# A SIGKILLed tandem takes nothing with it: the workload finishes under its monitor, which
# removes what --rm says when it ends.
before=$(host_snapshot)
start_and_identify --rm -- "$IN_PROBE" sleep 2 "$MARKER"
kill -KILL "$TANDEM_PID"
wait "$TANDEM_PID" 2>/dev/null || true
[[ -n $(monitor_pid) ]] || fail "the workload's monitor did not outlive a SIGKILLed tandem"
until_true 20 no_leftovers "$before" "$ID" || true
assert_nothing_left "$before" "a run whose tandem was SIGKILLed, once the workload ended" "$ID"

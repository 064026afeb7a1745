#!/bin/bash
# tandem ps, inspect and rm: a container's record from start to end, --rm leaving none, a running
# name refused to a second workload, a tandem killed mid-run losing nothing, a monitor killed
# mid-run shown as lost with nothing of it left running, and rm taking ended and lost workloads
# with what they kept, never a running one.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
need_tools jq
make_rootfs

run_here() {
  status=0
  timeout --kill-after=5 30 "$TANDEM" --state-root "$OWN_STATE" run --isolation container \
    --rootfs "$ROOTFS" "$@" </dev/null >"$SCRATCH/out" 2>"$SCRATCH/err" || status=$?
  out=$(<"$SCRATCH/out")
  err=$(<"$SCRATCH/err")
}
record() {  # NAME: the JSON record of the workload of that name, "" if none
  "$TANDEM" --state-root "$OWN_STATE" ps -a --json | jq -c --arg name "$1" 'select(.name == $name)'
}

run_here --name ended -- sh -c 'exit 3'
assert_status 3 "a run that exits 3"
assert_eq 'exited 3 container ["sh","-c","exit 3"]' \
  "$(record ended | jq -r '"\(.state) \(.exit_code) \(.isolation) \(.command | tojson)"')" \
  "the record of an ended workload"

assert_match "^container container: requested with --isolation container \(weighed: " \
  "$("$TANDEM" --state-root "$OWN_STATE" inspect ended | jq -r '.[0] | "\(.isolation) \(.reason)"')" \
  "inspect: the level and the reason for it"
id=$(record ended | jq -r .id)
[[ -d $OWN_STATE/containers/$id ]] || fail "the ended container kept no state to remove"
"$TANDEM" --state-root "$OWN_STATE" rm ended >/dev/null || fail "tandem rm of an ended workload"
assert_eq "" "$(record ended)" "the record after tandem rm"
[[ ! -e $OWN_STATE/containers/$id ]] || fail "tandem rm left the container's state folder"

run_here --rm --name removed -- true
assert_status 0 "a run with --rm"
assert_eq "" "$(record removed)" "the record of a workload run with --rm"

"$TANDEM" --state-root "$OWN_STATE" run --isolation container --rootfs "$ROOTFS" --name held \
  -- /bin/sh -c "sleep 30; : $MARKER" </dev/null >/dev/null 2>&1 &
held=$!
at_exit kill -KILL "$held"
running() { [[ $(record held | jq -r .state) == running ]]; }
until_true 10 running || fail "the running workload is not listed as running: $(record held)"
[[ $("$TANDEM" --state-root "$OWN_STATE" ps) == *held* ]] || fail "ps without -a omits a running one"
run_here --name held -- true
assert_runtime_error "a second workload under a running one's name"
[[ $err == *'belongs to the running workload'* ]] || fail "the refusal names the holder: $err"
"$TANDEM" --state-root "$OWN_STATE" rm held 2>"$SCRATCH/err" && fail "tandem rm took a running workload"
[[ $(<"$SCRATCH/err") == *"is running"* ]] || fail "rm's refusal: $(<"$SCRATCH/err")"

# A killed tandem loses nothing: the monitor runs the workload on.
kill -KILL "$held"
wait "$held" 2>/dev/null || true
assert_eq running "$(record held | jq -r .state)" "the workload of a killed tandem"
# A killed monitor takes the workload along, and the record reads lost.
monitor=$(monitor_pid) || fail "no tandem-monitor runs the held workload"
kill -KILL "$monitor"
lost() { [[ $(record held 2>/dev/null | jq -r .state) == lost ]]; }
until_true 10 lost || fail "a killed monitor's workload is not shown as lost: $(record held)"
gone() { [[ -z $(processes_matching "$MARKER") ]]; }
until_true 10 gone || fail "the workload outlived its monitor: $(processes_matching "$MARKER")"
"$TANDEM" --state-root "$OWN_STATE" rm "$(record held | jq -r 'select(.state == "lost") | .id')" \
  >/dev/null || fail "tandem rm of a lost workload"
run_here --name held -- true
assert_status 0 "a lost workload's name, taken again"

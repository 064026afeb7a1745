#!/bin/bash
# tandem ps: a container's record from start to end, --rm leaving none, a running name refused to
# a second workload, and a tandem killed mid-run shown as lost, with nothing of it left running.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
need_tools jq
make_rootfs

state=$SCRATCH/state
run_here() {
  status=0
  timeout --kill-after=5 30 "$TANDEM" --state-root "$state" run --isolation container \
    --rootfs "$ROOTFS" "$@" </dev/null >"$SCRATCH/out" 2>"$SCRATCH/err" || status=$?
  out=$(<"$SCRATCH/out")
  err=$(<"$SCRATCH/err")
}
record() {  # NAME: the JSON record of the workload of that name, "" if none
  "$TANDEM" --state-root "$state" ps -a --json | jq -c --arg name "$1" 'select(.name == $name)'
}

run_here --name ended -- sh -c 'exit 3'
assert_status 3 "a run that exits 3"
assert_eq 'exited 3 container ["sh","-c","exit 3"]' \
  "$(record ended | jq -r '"\(.state) \(.exit_code) \(.isolation) \(.command | tojson)"')" \
  "the record of an ended workload"

run_here --rm --name removed -- true
assert_status 0 "a run with --rm"
assert_eq "" "$(record removed)" "the record of a workload run with --rm"

"$TANDEM" --state-root "$state" run --isolation container --rootfs "$ROOTFS" --name held \
  -- /bin/sh -c "sleep 30; : $MARKER" </dev/null >/dev/null 2>&1 &
held=$!
at_exit kill -KILL "$held"
running() { [[ $(record held | jq -r .state) == running ]]; }
until_true 10 running || fail "the running workload is not listed as running: $(record held)"
[[ $("$TANDEM" --state-root "$state" ps) == *held* ]] || fail "ps without -a omits a running one"
run_here --name held -- true
assert_runtime_error "a second workload under a running one's name"
[[ $err == *'belongs to the running workload'* ]] || fail "the refusal names the holder: $err"

kill -KILL "$held"
wait "$held" 2>/dev/null || true
lost() { [[ $(record held | jq -r .state) == lost ]]; }
until_true 10 lost || fail "a killed tandem's workload is not shown as lost: $(record held)"
gone() { [[ -z $(processes_matching "$MARKER") ]]; }
until_true 10 gone || fail "the workload outlived its tandem: $(processes_matching "$MARKER")"
run_here --name held -- true
assert_status 0 "a lost workload's name, taken again"

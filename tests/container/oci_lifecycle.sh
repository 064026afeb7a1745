#!/bin/bash
# tandem-oci against the runtime-spec's lifecycle ("Lifecycle", "Operations", "State" in
# runtime.md): create leaves the process waiting without running the user's program; the state
# fields and the pid file; start runs it, once; delete of a running container, kill of a stopped
# one and operations on unknown ids are refused with runc's errors; delete removes everything;
# run waits and gives back the process's exit code.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=oci_lib.sh
source "$(dirname "$0")/oci_lib.sh"
need_root "creates namespaces and cgroups"
need_tools jq
make_rootfs

mkdir -p "$SCRATCH/shared"
# The user's program leaves a mark in a host folder bound into the container, then waits.
make_bundle life '.process.args = ["sh", "-c", "echo ran > /shared/mark; trap \"exit 7\" TERM; while :; do sleep 0.1; done"]
  | .mounts += [{"destination": "/shared", "type": "bind", "source": "'"$SCRATCH/shared"'", "options": ["rbind", "rw"]}]
  | .annotations = {"org.example.key": "value"}'

oci create --bundle "$SCRATCH/life" --pid-file "$SCRATCH/life.pid" life ||
  fail "create: $(<"$SCRATCH/oci.err")"
state=$(oci state life) || fail "state after create: $(<"$SCRATCH/oci.err")"
assert_eq created "$(jq -r .status <<<"$state")" "status after create"
assert_eq life "$(jq -r .id <<<"$state")" "state.id"
assert_eq "$SCRATCH/life" "$(jq -r .bundle <<<"$state")" "state.bundle: the bundle's absolute path"
assert_eq value "$(jq -r '.annotations["org.example.key"]' <<<"$state")" "state.annotations"
assert_match '^1\.' "$(jq -r .ociVersion <<<"$state")" "state.ociVersion"
pid=$(jq -r .pid <<<"$state")
assert_eq "$pid" "$(<"$SCRATCH/life.pid")" "the pid file holds state.pid"
[[ -d /proc/$pid ]] || fail "the created container's process $pid does not exist"
sleep 0.3
[[ ! -e $SCRATCH/shared/mark ]] || fail "the user's program ran before start"

oci create --bundle "$SCRATCH/life" life && fail "a second create with the same id succeeded"
assert_match 'already exists' "$(<"$SCRATCH/oci.err")" "create with an id in use"

oci start life || fail "start: $(<"$SCRATCH/oci.err")"
wait_for_file "$SCRATCH/shared/mark" 10
assert_eq running "$(oci state life | jq -r .status)" "status after start"
assert_eq "$pid" "$(oci state life | jq -r .pid)" "the process keeps its pid across start"

oci start life && fail "a second start succeeded"
assert_match 'already running' "$(<"$SCRATCH/oci.err")" "start of a running container"
oci delete life && fail "delete of a running container succeeded without --force"
assert_match 'not stopped' "$(<"$SCRATCH/oci.err")" "delete of a running container"

pids=$(oci ps --format json life) || fail "ps: $(<"$SCRATCH/oci.err")"
assert_match "(^|[^0-9])$pid([^0-9]|$)" "$pids" "ps --format json lists the container's process"

oci kill life TERM || fail "kill: $(<"$SCRATCH/oci.err")"
wait_for_status life stopped 10
state=$(oci state life)
assert_eq 0 "$(jq -r .pid <<<"$state")" "state.pid of a stopped container"
oci kill life KILL && fail "kill of a stopped container succeeded"
assert_match 'not running' "$(<"$SCRATCH/oci.err")" "kill of a stopped container"
oci start life && fail "start of a stopped container succeeded"

cgroup_dirs=$(cgroup_directories_of life)
oci delete life || fail "delete: $(<"$SCRATCH/oci.err")"
oci state life && fail "state of a deleted container succeeded"
assert_match 'does not exist' "$(<"$SCRATCH/oci.err")" "state of a deleted container"
[[ ! -e $OCI_ROOT/life ]] || fail "delete left $OCI_ROOT/life"
for dir in $cgroup_dirs; do
  [[ ! -e $dir ]] || fail "delete left the cgroup $dir"
done
oci delete --force life || fail "delete --force of an unknown container must succeed, as runc's"
oci kill nosuch && fail "kill of an unknown container succeeded"

# delete of a created container ends its waiting process; --force takes a running one.
oci create --bundle "$SCRATCH/life" waiting || fail "create: $(<"$SCRATCH/oci.err")"
pid=$(oci state waiting | jq -r .pid)
oci delete waiting || fail "delete of a created container: $(<"$SCRATCH/oci.err")"
wait_gone "$pid" 10
oci create --bundle "$SCRATCH/life" forced && oci start forced || fail "create+start: $(<"$SCRATCH/oci.err")"
pid=$(oci state forced | jq -r .pid)
oci delete --force forced || fail "delete --force: $(<"$SCRATCH/oci.err")"
wait_gone "$pid" 10

# run: create and start, wait, the process's own exit code, and nothing left after.
make_bundle quick '.process.args = ["sh", "-c", "echo out; echo err >&2; exit 42"]'
status=0
oci_run run --bundle "$SCRATCH/quick" quick || status=$?
assert_eq 42 "$status" "run: the process's exit code"
assert_eq out "$(<"$SCRATCH/oci.out")" "run: the process's stdout"
assert_eq err "$(<"$SCRATCH/oci.err")" "run: the process's stderr"
[[ ! -e $OCI_ROOT/quick ]] || fail "run left its state behind"

# --no-pivot: the root moved over the old one and chrooted into, as runc --no-pivot does.
status=0
oci_run run --no-pivot --bundle "$SCRATCH/quick" nopivot || status=$?
assert_eq 42 "$status" "run --no-pivot: the process's exit code ($(<"$SCRATCH/oci.err"))"
assert_eq out "$(<"$SCRATCH/oci.out")" "run --no-pivot: the process's stdout"

# exec --process FILE --detach --pid-file, as conmon calls it: the process runs in the
# container, its pid in the file, and the runtime returns at once.
make_bundle host '.process.args = ["sh", "-c", "trap \"exit 0\" TERM; while :; do sleep 0.1; done"]
  | .mounts += [{"destination": "/shared", "type": "bind", "source": "'"$SCRATCH/shared"'", "options": ["rbind", "rw"]}]'
oci run --detach --bundle "$SCRATCH/host" host || fail "run --detach: $(<"$SCRATCH/oci.err")"
cat >"$SCRATCH/process.json" <<'JSON'
{"args": ["sh", "-c", "sleep 0.5; echo from-exec > /shared/exec-mark"], "cwd": "/",
 "env": ["PATH=/bin:/usr/bin"], "user": {"uid": 0, "gid": 0}}
JSON
oci exec --process "$SCRATCH/process.json" --detach --pid-file "$SCRATCH/exec.pid" host ||
  fail "exec --detach: $(<"$SCRATCH/oci.err")"
exec_pid=$(<"$SCRATCH/exec.pid")
[[ -d /proc/$exec_pid ]] || fail "exec --detach: its pid file names no running process"
assert_match "(^|[^0-9])$exec_pid([^0-9]|$)" "$(oci ps --format json host)" "ps lists the exec'd process"
wait_for_file "$SCRATCH/shared/exec-mark" 10
assert_eq from-exec "$(<"$SCRATCH/shared/exec-mark")" "exec --process: the process ran in the container"
listed=$(oci list --format json) || fail "list: $(<"$SCRATCH/oci.err")"
assert_eq running "$(jq -r '.[] | select(.id == "host") | .status' <<<"$listed")" "list --format json"
# kill --all: every process of the container's cgroup, the exec'd ones too.
oci exec --detach --pid-file "$SCRATCH/sleeper.pid" host sleep 600 || fail "exec sleep: $(<"$SCRATCH/oci.err")"
sleeper=$(<"$SCRATCH/sleeper.pid")
oci kill --all host KILL || fail "kill --all: $(<"$SCRATCH/oci.err")"
wait_gone "$sleeper" 10
wait_for_status host stopped 10
oci delete --force host || fail "delete --force: $(<"$SCRATCH/oci.err")"

# A program that is not there fails the create, as runc's does, and leaves nothing.
make_bundle missing '.process.args = ["/no/such/program"]'
oci create --bundle "$SCRATCH/missing" missing && fail "create of a missing program succeeded"
assert_match 'no/such/program' "$(<"$SCRATCH/oci.err")" "create of a missing program"
[[ ! -e $OCI_ROOT/missing ]] || fail "a failed create left its state behind"

# The level: io.tandem.isolation picks it; a value it does not know is refused, naming it. Where
# no microVM can run, asking for one is refused with the reason, never swapped for a container;
# tandem-oci-vm asks for one unless the bundle says otherwise.
make_bundle bogus '.process.args = ["true"] | .annotations = {"io.tandem.isolation": "vmm"}'
oci create --bundle "$SCRATCH/bogus" bogus && fail "create with io.tandem.isolation=vmm succeeded"
assert_match 'io.tandem.isolation' "$(<"$SCRATCH/oci.err")" "an unknown isolation annotation"
make_bundle pinned '.process.args = ["true"] | .annotations = {"io.tandem.isolation": "container"}'
ln -s "$TANDEM_OCI" "$SCRATCH/tandem-oci-vm"
status=0
timeout 30 "$SCRATCH/tandem-oci-vm" --root "$OCI_ROOT" run --bundle "$SCRATCH/pinned" pinned \
  >/dev/null 2>"$SCRATCH/oci.err" </dev/null || status=$?
assert_eq 0 "$status" "tandem-oci-vm runs a bundle pinned to container level ($(<"$SCRATCH/oci.err"))"
if ! kvm_usable; then
  make_bundle wants-vm '.process.args = ["true"]'
  timeout 30 "$SCRATCH/tandem-oci-vm" --root "$OCI_ROOT" create --bundle "$SCRATCH/wants-vm" wants-vm \
    2>"$SCRATCH/oci.err" </dev/null && fail "tandem-oci-vm created a container where no microVM can run"
  assert_match 'kvm-host' "$(<"$SCRATCH/oci.err")" "tandem-oci-vm without a usable KVM names the way forward"
  [[ ! -e $OCI_ROOT/wants-vm ]] || fail "a refused create left its state"
fi

echo "ok"

#!/bin/bash
# The lifecycle verbs on containers: run -d returns once the workload runs and prints only its
# id; logs gives stdout and stderr back apart, with -t, -n and -f; kill passes a signal on; stop
# ends a workload that honours SIGTERM at once and one that ignores it after the grace period;
# wait prints exit codes; stats measures; rm -f takes a running workload and leaves nothing of it.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
need_tools jq
make_rootfs

detach() {  # ARGS...: run -d; sets id, or fails
  id=$(t run -d --isolation container --rootfs "$ROOTFS" "$@" </dev/null 2>"$SCRATCH/err") ||
    fail "run -d $*: $(<"$SCRATCH/err")"
  [[ $id =~ ^[0-9a-f]{64}$ ]] || fail "run -d printed '$id', not a workload id"
}
logged() {  # WORKLOAD TEXT: whether the workload's output holds TEXT yet
  t logs "$1" 2>&1 | grep -- "$2" >/dev/null
}
state_of() {
  t inspect "$1" | jq -r '.[0].state'
}

# run -d: back once the workload runs, with only the id on stdout; the output is in the log.
detach --name talker -- sh -c "echo out-1; echo err-1 >&2; printf partial; sleep 600; : $MARKER"
assert_eq running "$(state_of talker)" "a detached workload right after run -d"
[[ $(t ps) == *talker* ]] || fail "ps does not list the detached workload"
t logs talker >"$SCRATCH/log.out" 2>"$SCRATCH/log.err"
assert_eq "out-1
partial" "$(<"$SCRATCH/log.out")" "logs: the workload's stdout"
assert_eq "err-1" "$(<"$SCRATCH/log.err")" "logs: the workload's stderr"
t logs -t talker >"$SCRATCH/stamped" 2>/dev/null
assert_match '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z out-1$' "$(head -1 "$SCRATCH/stamped")" \
  "logs -t: a line with its time"
assert_eq "partial" "$(t logs -n 1 talker 2>/dev/null)" "logs -n 1: the last line"

# stats: CPU time, memory against the limit and processes, from the container's cgroup.
detach --name busy --memory 64M -- sh -c 'sleep 600 & while :; do :; done'
stats=$(t stats --no-stream --json busy)
assert_eq "busy 67108864 2 true true" \
  "$(jq -r '"\(.name) \(.memory_limit_bytes) \(.processes) \(.cpu_ns > 0) \(.memory_bytes > 0)"' \
    <<<"$stats")" "stats of a busy container"
t rm -f busy >/dev/null
t stats --no-stream busy 2>/dev/null && fail "stats of a removed workload succeeded"

# kill -s passes a signal the workload handles on; kill's default, SIGKILL, ends it.
detach --name trapper -- sh -c 'trap "echo got-usr1" USR1; echo ready; while :; do sleep 0.1; done'
until_true 10 logged trapper ready || fail "the trapping workload never got ready"
assert_eq trapper "$(t kill -s USR1 trapper)" "kill -s USR1 prints the workload"
until_true 10 logged trapper got-usr1 ||
  fail "the workload never saw the SIGUSR1: $(t logs trapper 2>&1)"
t kill trapper >/dev/null
assert_eq 137 "$(t wait trapper)" "wait after kill: SIGKILL's code"
t kill trapper 2>"$SCRATCH/err" && fail "kill of an ended workload succeeded"
[[ $(<"$SCRATCH/err") == *"is not running"* ]] || fail "kill of an ended one: $(<"$SCRATCH/err")"
t kill -s NOSUCH talker 2>"$SCRATCH/err" && fail "kill -s NOSUCH succeeded"
[[ $(<"$SCRATCH/err") == *"is not a signal"* ]] || fail "kill -s NOSUCH: $(<"$SCRATCH/err")"

# stop: a workload that exits on SIGTERM ends at once with its own code; PID 1 without a
# handler ignores SIGTERM, and is killed once the grace period is over.
detach --name polite -- sh -c 'trap "exit 5" TERM; echo ready; while :; do sleep 0.1; done'
until_true 10 logged polite ready || fail "the polite workload never got ready"
assert_eq polite "$(t stop polite)" "stop prints the workload"
assert_eq "exited 5" "$(t inspect polite | jq -r '.[0] | "\(.state) \(.exit_code)"')" \
  "a workload that exits on SIGTERM"
detach --name stubborn -- sleep 600
start=$SECONDS
t stop -t 1 stubborn >/dev/null || fail "stop -t 1 of a workload that ignores SIGTERM"
((SECONDS - start < 10)) || fail "stop -t 1 took $((SECONDS - start)) s"
assert_eq 137 "$(t wait stubborn)" "a workload killed after stop's grace period"
assert_eq stubborn "$(t stop stubborn)" "stop of an ended workload is no error"

# wait blocks until the end and prints each code in turn.
detach --name quick -- sh -c 'sleep 1; exit 7'
assert_eq running "$(state_of quick)" "quick, before wait"
assert_eq "7
137" "$(t wait quick stubborn)" "wait's codes"

# logs -f follows until the end.
detach --name counter -- sh -c 'for i in 1 2 3; do echo line-$i; sleep 0.3; done'
assert_eq "line-1
line-2
line-3" "$(t logs -f counter)" "logs -f: everything, then back at the end"

# --log-opt: the log rotates past max-size, keeping max-file files, each under the limit, and
# logs reads them in order; logs -f follows across a rotation without losing a line.
consecutive() {  # the lines on stdin are line-N, line-N+1, ..., line-$1
  awk -v last="$1" -F- 'NR == 1 { n = $2 } $2 != n++ { exit 1 } END { exit !(NR > 0 && n - 1 == last) }'
}
t run --isolation container --rootfs "$ROOTFS" --name rotated --log-opt max-size=4k \
  --log-opt max-file=3 -- sh -c 'for i in $(seq 1 300); do echo line-$i; done' >/dev/null </dev/null
id_rotated=$(t inspect rotated | jq -r '.[0].id')
files=$(find "$OWN_STATE/workloads/$id_rotated" -name 'log*' | sort)
assert_eq "log log.1 log.2" "$(xargs -n1 basename <<<"$files" | tr '\n' ' ' | sed 's/ $//')" \
  "a rotated log's files"
for file in $files; do
  (($(stat -c %s "$file") <= 4096)) || fail "$file is past max-size: $(stat -c %s "$file") bytes"
done
t logs rotated | consecutive 300 || fail "the rotated log's lines: $(t logs rotated | head -3)"
detach --name chatty --log-opt max-size=4k --log-opt max-file=2 -- \
  sh -c 'for i in $(seq 1 400); do echo line-$i; sleep 0.005; done'
t logs -f chatty | consecutive 400 || fail "logs -f across rotations: $(t logs chatty | head -3)"

# A detached workload's stdin is /dev/null: it reads EOF at once.
detach --name reader -- sh -c 'cat; echo stdin-closed'
assert_eq 0 "$(t wait reader)" "a detached workload reading stdin"
assert_eq stdin-closed "$(t logs reader)" "a detached workload's stdin"

# A command that cannot start fails run -d itself, as docker run -d does.
status=0
t run -d --isolation container --rootfs "$ROOTFS" -- /no/such/command \
  </dev/null >"$SCRATCH/out" 2>"$SCRATCH/err" || status=$?
out=$(<"$SCRATCH/out")
err=$(<"$SCRATCH/err")
assert_status 127 "run -d of a missing command"
assert_eq "" "$out" "run -d's stdout when the command cannot start"

# rm -f ends a running workload and removes it, with its log; without -f, rm refuses.
id_talker=$(t inspect talker | jq -r '.[0].id')
t rm talker 2>"$SCRATCH/err" && fail "rm without -f took a running workload"
[[ $(<"$SCRATCH/err") == *"rm -f"* ]] || fail "rm's refusal: $(<"$SCRATCH/err")"
assert_eq talker "$(t rm -f talker)" "rm -f prints the workload"
t inspect talker 2>/dev/null && fail "the record outlived rm -f"
[[ ! -e $OWN_STATE/workloads/$id_talker && ! -e $OWN_STATE/containers/$id_talker ]] ||
  fail "rm -f left the workload's folders"
gone() { [[ -z $(processes_matching "$MARKER") ]]; }
until_true 10 gone || fail "rm -f left processes: $(processes_matching "$MARKER")"

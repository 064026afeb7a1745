#!/bin/bash
# A bounded, seeded loop of crashes. Each round SIGKILLs, at a random moment, one of:
# - run: the tandem that runs a short container (half of them on the bridge network), or its
#   monitor, before, during or after the start;
# - stop: a `tandem stop` of a detached container that ignores SIGTERM;
# - rm: a `tandem rm -f` of a detached container.
# After every round, ps is truthful: a record reads running exactly when its workload runs. At
# the end, what died with its monitor reads lost, what outlived a killed tandem ended and was
# recorded; tandem rm -f takes every record, and no process, cgroup, host link, address lease,
# mount or state of any round is left.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces, cgroups and network links"
need_tools jq ip
make_rootfs

rounds=${CRASH_ROUNDS:-15}
RANDOM=${CRASH_SEED:-6}
echo "crash loop: $rounds rounds, seed ${CRASH_SEED:-6}"
before=$(host_snapshot)

# tag ROUND: what the round's workload carries on its command line, ended so that round 1's
# never matches round 10's.
tag() { echo "$MARKER-round-$1-"; }

# round_monitor ROUND: the tandem-monitor of that round, if it runs.
round_monitor() {
  local pid _
  while read -r pid _; do
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == tandem-monitor ]] && echo "$pid" && return 0
  done < <(processes_matching "$(tag "$1")")
  return 1
}

# The round's workload itself (sh, whose command line holds the marker), not tandem's processes.
round_workload_runs() {
  local pid _
  while read -r pid _; do
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == sh ]] && return 0
  done < <(processes_matching "$(tag "$1")")
  return 1
}

# describe_round ROUND: each process of the round, with its name, state and parent.
describe_round() {
  local pid rest stat
  while read -r pid rest; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    stat=${stat##*) }
    echo "[$pid $(cat "/proc/$pid/comm" 2>/dev/null) state ${stat%% *} parent $(cut -d' ' -f2 <<<"$stat")]"
  done < <(processes_matching "$(tag "$1")")
}

# Where ps is not truthful: each round whose record reads running while its workload does not
# run, or the other way round. A workload between its record and its exec (or its exit and its
# record) may disagree for a moment.
untruthful() {
  local records name state says runs
  records=$(t ps -a --json 2>/dev/null) || {
    echo "tandem ps failed"
    return
  }
  while read -r name state; do
    [[ -n $name ]] || continue
    says=no runs=no
    [[ $state != running ]] || says=yes
    ! round_workload_runs "${name#round-}" || runs=yes
    [[ $says == "$runs" ]] || echo "$name: the record says $state, the workload runs: $runs" \
      "$(describe_round "${name#round-}")"
  done < <(jq -r '"\(.name) \(.state)"' <<<"$records")
}
truthful() { [[ -z $(untruthful) ]]; }

links_of() {
  local id
  for id in "$@"; do
    ip -o link show 2>/dev/null | grep -F "tdm${id:0:12}" || true
  done
}

run_round() {
  local round=$1 network=none cli victim
  if ((RANDOM % 2)); then
    network=bridge
  fi
  "$TANDEM" --state-root "$OWN_STATE" run --isolation container --rootfs "$ROOTFS" \
    --network "$network" --name "round-$round" -- sh -c "sleep 0.3; : $(tag "$round")" \
    </dev/null >/dev/null 2>&1 &
  cli=$!
  sleep "0.$((RANDOM % 5))"
  victim=$cli
  if ((RANDOM % 2)); then
    victim=$(round_monitor "$round") || victim=$cli
  fi
  echo "round $round: run ($network): SIGKILL to $([[ $victim == "$cli" ]] && echo tandem || echo the monitor)"
  kill -KILL "$victim" 2>/dev/null || true
  wait "$cli" 2>/dev/null || true
}

# A detached container that ignores SIGTERM, so that stop must escalate; then VERB on it, killed.
detached_round() {
  local round=$1 verb=$2 cli
  t run -d --isolation container --rootfs "$ROOTFS" --network bridge --name "round-$round" -- \
    sh -c "trap '' TERM; sleep 30; : $(tag "$round")" </dev/null >/dev/null 2>&1 ||
    fail "round $round: the detached container did not start"
  if [[ $verb == stop ]]; then
    "$TANDEM" --state-root "$OWN_STATE" stop -t 1 "round-$round" >/dev/null 2>&1 &
  else
    "$TANDEM" --state-root "$OWN_STATE" rm -f "round-$round" >/dev/null 2>&1 &
  fi
  cli=$!
  sleep "0.$((RANDOM % 10))"
  echo "round $round: $verb: SIGKILL to tandem $verb"
  kill -KILL "$cli" 2>/dev/null || true
  wait "$cli" 2>/dev/null || true
}

for ((round = 1; round <= rounds; round++)); do
  case $((RANDOM % 3)) in
    0) run_round "$round" ;;
    1) detached_round "$round" stop ;;
    2) detached_round "$round" rm ;;
  esac
  until_true 10 truthful ||
    fail "round $round: ps is not truthful: $(untruthful)"$'\n'"$(t ps -a 2>&1)"
done

records=$(t ps -a --json 2>/dev/null)
echo "records by state: $(jq -r .state <<<"$records" | sort | uniq -c | tr -s ' \n' ' ')"
(($(jq -s length <<<"$records") <= rounds)) || fail "more records than rounds: $records"
# A record that says exited has its code; a lost one says which monitor died.
codeless=$(jq -c 'select(.state == "exited" and (.exit_code | type) != "number")' <<<"$records")
[[ -z $codeless ]] || fail "an exited record without its code: $codeless"
ids=$(jq -r .id <<<"$records")
for id in $ids; do
  t rm -f "$id" >/dev/null || fail "tandem rm -f $id"
done
assert_eq "" "$(t ps -a --json 2>/dev/null)" "the store after tandem rm -f of every record"

# The janitors get a few seconds for what a killed monitor left.
settled() {
  [[ -z $(processes_matching "$MARKER-round-") ]]
}
until_true 20 settled || fail "still running after rm -f: $(processes_matching "$MARKER-round-")"
for id in $ids; do
  found=$(cgroup_dirs | grep -F "$id" || true)
  [[ -z $found ]] || fail "a cgroup outlived workload $id: $found"
done
# shellcheck disable=SC2086 # one id per word
links=$(links_of $ids)
[[ -z $links ]] || fail "host links outlived their workloads: $links"
leases=$(find "$OWN_STATE/network" -type f ! -name '.*' 2>/dev/null)
[[ -z $leases ]] || fail "address leases outlived their workloads: $leases"
left=$(find "$OWN_STATE/containers" "$OWN_STATE/workloads" -mindepth 1 -maxdepth 1 2>/dev/null)
[[ -z $left ]] || fail "state left after rm: $left"
assert_nothing_left "$before" "the crash loop"

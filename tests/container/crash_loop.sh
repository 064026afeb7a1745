#!/bin/bash
# A bounded, seeded loop of crashes: each round starts a short container and SIGKILLs, at a
# random moment (before, during or after its start), either the tandem that runs it or its
# monitor. Afterwards the store is truthful (nothing reads running; what died with its monitor
# reads lost, what outlived a killed tandem ended and was recorded), nothing of any round runs,
# no cgroup is left, and tandem rm takes every record with its state.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
need_tools jq
make_rootfs

rounds=${CRASH_ROUNDS:-12}
RANDOM=${CRASH_SEED:-6}
echo "crash loop: $rounds rounds, seed ${CRASH_SEED:-6}"
before=$(host_snapshot)

# round_monitor ROUND: the tandem-monitor of that round, if it runs.
round_monitor() {
  local pid _
  while read -r pid _; do
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == tandem-monitor ]] && echo "$pid" && return 0
  done < <(processes_matching "$MARKER-round-$1")
  return 1
}

for ((round = 1; round <= rounds; round++)); do
  "$TANDEM" --state-root "$OWN_STATE" run --isolation container --rootfs "$ROOTFS" \
    --name "round-$round" -- sh -c "sleep 0.3; : $MARKER-round-$round" </dev/null \
    >/dev/null 2>&1 &
  cli=$!
  sleep "0.$((RANDOM % 5))"
  victim=$cli
  if ((RANDOM % 2)); then
    victim=$(round_monitor "$round") || victim=$cli
  fi
  echo "round $round: SIGKILL to $([[ $victim == "$cli" ]] && echo tandem || echo the monitor)"
  kill -KILL "$victim" 2>/dev/null || true
  wait "$cli" 2>/dev/null || true
done

# Every round's workload ends within a second of its start, or died with its monitor; the
# janitors get a few seconds for what a killed monitor left.
settled() {
  # ps without -a lists only the running.
  [[ -z $(processes_matching "$MARKER-round-") && -z $(t ps --json 2>/dev/null) ]]
}
until_true 20 settled ||
  fail "still running after the loop: $(processes_matching "$MARKER-round-") $(t ps 2>&1)"

records=$(t ps -a --json 2>/dev/null)
echo "records by state: $(jq -r .state <<<"$records" | sort | uniq -c | tr -s ' \n' ' ')"
(($(jq -s length <<<"$records") <= rounds)) || fail "more records than rounds: $records"
bad=$(jq -c 'select(.state != "exited" and .state != "lost")' <<<"$records")
[[ -z $bad ]] || fail "records neither ended nor lost: $bad"
# A record that says exited has its code; a lost one says which monitor died.
codeless=$(jq -c 'select(.state == "exited" and (.exit_code | type) != "number")' <<<"$records")
[[ -z $codeless ]] || fail "an exited record without its code: $codeless"
for id in $(jq -r .id <<<"$records"); do
  found=$(cgroup_dirs | grep -F "$id" || true)
  [[ -z $found ]] || fail "a cgroup outlived workload $id: $found"
done
for id in $(jq -r .id <<<"$records"); do
  t rm "$id" >/dev/null || fail "tandem rm $id"
done
assert_eq "" "$(t ps -a --json 2>/dev/null)" "the store after tandem rm of every record"
left=$(find "$OWN_STATE/containers" "$OWN_STATE/workloads" -mindepth 1 -maxdepth 1 2>/dev/null)
[[ -z $left ]] || fail "state left after rm: $left"
assert_nothing_left "$before" "the crash loop"

#!/bin/bash
# Admission on this host: running workloads' reservations (CPU quota, memory limit) are counted,
# and one that does not fit beside them is refused, saying what is short; with --queue it waits,
# and starts once room is given back; a signal cancels the wait. Its own state root, so other
# tests' workloads do not count.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
need_tools jq
make_rootfs

try_run() {  # ARGS...: a run that may be refused; sets status, out, err
  status=0
  t run --isolation container --rootfs "$ROOTFS" "$@" </dev/null >"$SCRATCH/out" \
    2>"$SCRATCH/err" || status=$?
  out=$(<"$SCRATCH/out")
  err=$(<"$SCRATCH/err")
}
cpus=$(nproc)
# CPU is oversubscribed up to 4 times the host's CPUs (scheduler/admission.h): four workloads
# with a quota of every CPU fill it.
full=4
# More than half the host's memory: a limit reserves it (the workload never touches it), and two
# such cannot both run.
half_kib=$(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 2 + 1024))

for ((i = 1; i <= full; i++)); do
  t run -d --isolation container --rootfs "$ROOTFS" --name "all-cpus-$i" --cpus "$cpus" -- \
    sleep 600 </dev/null >/dev/null
done
assert_eq "$((cpus * 1000))" "$(t inspect all-cpus-1 | jq -r '.[0].reserved.cpu_milli')" \
  "the CPU reservation of --cpus $cpus"
try_run --cpus 0.5 -- true
assert_runtime_error "a CPU quota beyond the host's CPUs"
[[ $err == *"the host is full; CPU: it reserves 0.5 CPUs"*"--queue SECONDS waits for room" ]] ||
  fail "the refusal: $err"
# Without a quota a container reserves no CPU, and fits.
try_run -- echo fits
assert_status 0 "a container without a CPU quota"

t run -d --isolation container --rootfs "$ROOTFS" --name half-memory --memory "${half_kib}k" -- \
  sleep 600 </dev/null >/dev/null
try_run --memory "${half_kib}k" -- true
assert_runtime_error "a memory limit beyond what is left"
[[ $err == *"the host is full; memory: it reserves"*"reserved by $((full + 1)) running workloads"* ]] ||
  fail "the memory refusal: $err"

# Queued: it waits, says so once, and runs when room is given back.
(sleep 1 && t stop -t 0 all-cpus-1 >/dev/null) &
stopper=$!
try_run --queue 30 --cpus 1 -- echo admitted
wait "$stopper"
assert_status 0 "a queued run once room was given back"
assert_eq admitted "$out" "the queued run's output"
[[ $err == "tandem: queued: the host is full; CPU: it reserves 1 CPU"* && $(wc -l <<<"$err") == 1 ]] ||
  fail "the queued run's word: $err"

# A queue wait that runs out is refused; a signal cancels it.
try_run --queue 0.5 --memory "${half_kib}k" -- true
assert_status 125 "a queue wait that ran out"
[[ $(tail -n 1 <<<"$err") == "tandem: the host is full; memory"*"waited in the queue for the time --queue gives" ]] ||
  fail "a queue timeout: $err"
: >"$SCRATCH/out"
# tandem itself, not under timeout(1), which would take the signal for its own.
"$TANDEM" --state-root "$OWN_STATE" run --isolation container --rootfs "$ROOTFS" --queue 30 \
  --memory "${half_kib}k" -- true </dev/null >"$SCRATCH/out" 2>"$SCRATCH/err" &
queued=$!
until_true 10 grep -q queued "$SCRATCH/err" || fail "the run never said it was queued"
kill -TERM "$queued"
status=0
wait "$queued" || status=$?
assert_eq 125 "$status" "a queued run cancelled by SIGTERM"
[[ $(<"$SCRATCH/err") == *"cancelled in the queue by SIGTERM"* ]] ||
  fail "the cancelled run's word: $(<"$SCRATCH/err")"
t rm -f half-memory all-cpus-{2..4} >/dev/null

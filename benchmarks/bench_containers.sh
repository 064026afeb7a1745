#!/bin/bash
# The container half of `tandem bench`, on this machine: tandem's container level beside runc,
# crun and bubblewrap, on one busybox rootfs. Prints one JSON record a line on stdout (see
# bench_lib.sh); progress goes to stderr. Run by bench.sh, which passes everything through the
# environment:
#   BENCH_TANDEM   the tandem binary
#   BENCH_WORK     a scratch folder of its own
#   BENCH_CLOCK_STAMP  tandem-clock-stamp, the workload that times its own first instruction
#   BENCH_STARTUP_RUNS, BENCH_MEMORY_RUNS, BENCH_DENSITY_MAX, BENCH_CPU_RUNS, BENCH_CPU_ROUNDS,
#   BENCH_IO_RUNS, BENCH_IO_MIB   how much to measure
set -euo pipefail

readonly prog=${0##*/}
die() {
  echo "$prog: $*" >&2
  exit 1
}
log() { echo "[containers] $*" >&2; }

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench_lib.sh
source "$here/bench_lib.sh"

: "${BENCH_TANDEM:?}" "${BENCH_WORK:?}" "${BENCH_STARTUP_RUNS:?}" "${BENCH_MEMORY_RUNS:?}"
: "${BENCH_DENSITY_MAX:?}" "${BENCH_CPU_RUNS:?}" "${BENCH_CPU_ROUNDS:?}" "${BENCH_IO_RUNS:?}"
: "${BENCH_IO_MIB:?}" "${BENCH_CLOCK_STAMP:?}"
readonly work=$BENCH_WORK
readonly rootfs=$work/rootfs runc_state=$work/runc-state
readonly where=host
rows=()  # the available rows, in the report's order

mkdir -p "$work" "$runc_state"
"$here/../tools/mkrootfs/tandem-mkrootfs-busybox" "$rootfs" >/dev/null ||
  die "cannot build the busybox rootfs at $rootfs"
install -m 0755 "$BENCH_CLOCK_STAMP" "$rootfs/clock-stamp"

# The CPU quota every row's workload gets, in CPUs. The density runs lower it: tandem admits
# workloads only while their reservations fit the host's CPUs, as a scheduler must.
cpus=1

# A runc/crun bundle running ARGS... on the shared rootfs with the limits tandem's runs get: a
# writable root, 64 MiB, $cpus of CPU quota, 100 pids, runc's default namespaces (an empty
# network namespace, like --network none).
make_bundle() {  # $1 folder, then the process's arguments
  local bundle=$1
  shift
  mkdir -p "$bundle"
  [[ -f $work/spec.json ]] || (cd "$work" && runc spec && mv config.json spec.json)
  jq --arg root "$rootfs" --argjson quota "$(awk -v c="$cpus" 'BEGIN { print int(c * 100000) }')" \
    --argjson args "$(printf '%s\n' "$@" | jq -R . | jq -s -c .)" '
    .root = {path: $root, readonly: false}
    | .process.args = $args
    | .process.terminal = false
    | .linux.resources.memory = {limit: 67108864}
    | .linux.resources.cpu = {quota: $quota, period: 100000}
    | .linux.resources.pids = {limit: 100}
  ' "$work/spec.json" >"$bundle/config.json"
}

# The command that runs ARGS... under row $1, one word a line (for mapfile); $2 names the
# instance (runc's container ID and bundle).
row_command() {  # $1 row, $2 instance, then the workload's arguments
  local row=$1 instance=$2
  shift 2
  case $row in
    tandem-container)
      printf '%s\n' "$BENCH_TANDEM" run --isolation container --rootfs "$rootfs" --memory 64M \
        --cpus "$cpus" --pids-limit 100 --network none --rm -- "$@" ;;
    runc)
      make_bundle "$work/bundle-$instance" "$@"
      printf '%s\n' runc --root "$runc_state" run --bundle "$work/bundle-$instance" \
        "bench-$instance" ;;
    crun)
      make_bundle "$work/bundle-$instance" "$@"
      printf '%s\n' crun --root "$runc_state" run --bundle "$work/bundle-$instance" \
        "bench-$instance" ;;
    bwrap)
      printf '%s\n' bwrap --unshare-all --bind "$rootfs" / --proc /proc --dev /dev "$@" ;;
  esac
}

# --- which rows can run here ---------------------------------------------------------------------
# Each peer runs /bin/true once; a refusal becomes the row's reason, in the peer's own words.
probe_row() {  # $1 row, $2 label, $3 version
  local command out status=0
  mapfile -t command < <(row_command "$1" probe /bin/true)
  out=$("${command[@]}" 2>&1 </dev/null) || status=$?
  if ((status != 0)); then
    local reason
    reason="$3 cannot run a container here (exit $status): $(tr '\n' ' ' <<<"$out" | cut -c1-300)"
    log "$1: unavailable: $reason"
    row_unavailable "$1" "$2" container "$where" "$reason"
    return 0
  fi
  rows+=("$1")
  row_available "$1" "$2" container "$where" "$3" "$(printf '%q ' "${command[@]}")"
}

version_of() {  # $1 command; the first line of its --version, or "" when it is missing
  command -v "$1" >/dev/null || return 0
  "$1" --version 2>&1 | head -n 1
}

probe_row tandem-container "tandem (container)" "$("$BENCH_TANDEM" --version 2>&1 | head -n 1 ||
  echo tandem)"
for peer in runc crun bwrap; do
  version=$(version_of "$peer")
  if [[ -z $version ]]; then
    row_unavailable "$peer" "$peer" container "$where" "$peer is not installed"
    continue
  fi
  probe_row "$peer" "$peer" "$version"
done

# --- startup -------------------------------------------------------------------------------------
# Launch to exit, and to the workload's first instruction: every row runs tandem-clock-stamp, which
# prints the wall clock as it starts, and this script reads the same clock just before the launch.
# Row by row, each after 3 untimed warmups, as hyperfine runs them: a runtime's teardown (cgroups
# the kernel frees later) slows the start after it, so interleaved rows would each pay for the one
# before. Nothing forks between the runs of a row: a process started there (jq, awk) slowed the
# next start by half, so the figures are worked out after the last run.
stamped_runs() {  # $1 runs, then the command; fills launches, ends and stamps, one per run
  local run stamp
  launches=() ends=() stamps=()
  for ((run = -2; run <= $1; run++)); do
    launches+=("$EPOCHREALTIME")
    "${@:2}" </dev/null >"$work/stamp" 2>"$work/stderr-$run" ||
      die "$2 failed: $(tail -c 1500 "$work/stderr-$run")"
    ends+=("$EPOCHREALTIME")
    read -r stamp <"$work/stamp" || stamp=''
    stamps+=("$stamp")
  done
  for stamp in "${stamps[@]}"; do
    [[ $stamp =~ ^[0-9]+\.[0-9]{6}$ ]] ||
      die "$2: the clock stamp printed '$stamp', not the time"
  done
  # The warmups go.
  launches=("${launches[@]:3}") ends=("${ends[@]:3}") stamps=("${stamps[@]:3}")
}
# Run $1's milliseconds from launch to exit and to the first instruction, as "EXIT FIRST".
stamped_times() {  # $1 run (1-based)
  local i=$(($1 - 1))
  awk -v a="${launches[i]}" -v b="${ends[i]}" -v c="${stamps[i]}" \
    'BEGIN { printf "%.3f %.3f\n", (b - a) * 1000, (c - a) * 1000 }'
}
log "startup: ${#rows[@]} runtimes, $BENCH_STARTUP_RUNS runs each after 3 warmups"
for row in "${rows[@]}"; do
  mapfile -t command < <(row_command "$row" startup /clock-stamp)
  stamped_runs "$BENCH_STARTUP_RUNS" "${command[@]}"
  for ((run = 1; run <= BENCH_STARTUP_RUNS; run++)); do
    read -r exit_ms first_ms < <(stamped_times "$run")
    sample startup "$row" "$(jq -c -n --argjson run "$run" --argjson exit "$exit_ms" \
      --argjson first "$first_ms" '{run: $run, exit_ms: $exit, first_instruction_ms: $first}')"
    # The peers report no phases of their own: their runs split at the first instruction.
    [[ $row == tandem-container ]] || sample startup_phases "$row" "$(jq -c -n --argjson run "$run" \
      --argjson exit "$exit_ms" --argjson first "$first_ms" '{run: $run, total_ms: $exit,
        phases_ms: {"to the workload'"'"'s first instruction": $first,
          "workload and the runtime'"'"'s exit": (($exit - $first) * 1000 | round / 1000)}}')"
  done
done

# tandem's own timeline (--stats) cuts its start further, in runs of their own, and the stamp
# shows what the runtime's clock does not see: the CLI and the scheduler before it (its exec phase
# ends as the stamp starts), the cleanup and the CLI's exit after.
log "startup phases: tandem --stats, $BENCH_STARTUP_RUNS runs after 3 warmups"
mapfile -t command < <(row_command tandem-container phases /clock-stamp)
stamped_runs "$BENCH_STARTUP_RUNS" "${command[0]}" "${command[1]}" --stats "${command[@]:2}"
for ((run = 1; run <= BENCH_STARTUP_RUNS; run++)); do
  read -r exit_ms first_ms < <(stamped_times "$run")
  sample startup_phases tandem-container "$(sed -n '/^{$/,$p' "$work/stderr-$run" | jq -c \
    --argjson run "$run" --argjson exit "$exit_ms" --argjson first "$first_ms" '
    def ms: . * 1000 | round / 1000;
    ($first - ([.phases_ms | to_entries[] | select(.key != "workload") | .value] | add) | ms)
      as $before
    | ($exit - $before - .timeline_ms.exited | ms) as $after
    | {run: $run, total_ms: $exit,
       phases_ms: ({"CLI and scheduler, before the runtime'"'"'s clock": $before} + .phases_ms
         + {"cleanup and the CLI'"'"'s exit": $after})}')"
done

# --- memory --------------------------------------------------------------------------------------
# One idle workload (busybox sleep) at a time. Everything that appeared since the snapshot is the
# runtime's, but the workload itself: tandem's monitor and log relay, runc's or bwrap's waiting
# parent.
idle_start() {  # $1 row, $2 instance number; starts it in the background, sets idle_pid
  local command
  mapfile -t command < <(row_command "$1" "idle-$2" /bin/sleep "$((86400 + $2))")
  "${command[@]}" </dev/null >/dev/null 2>"$work/idle-$2.err" &
  idle_pid=$!
  idle_markers+=("$((86400 + $2))")
}
# Whatever idle workload is left when this script ends, on any path, is killed, so that its
# runtime cleans up after it.
idle_markers=()
end_idle_workloads() {
  local marker
  for marker in "${idle_markers[@]}"; do
    pkill -KILL -fx "/bin/sleep $marker" 2>/dev/null || true
  done
  wait
}
trap end_idle_workloads EXIT
# Ends the idle workload: the workload is killed, and its runtime cleans up and exits; then
# waits for the rest of its processes (a monitor that left its parent) to be gone too.
idle_stop() {  # $1 workload pids, $2 the runtimes' pids, $3 all of their pids
  local pid deadline=$((SECONDS + 10))
  # shellcheck disable=SC2086
  kill -KILL $1 2>/dev/null || true
  # shellcheck disable=SC2086
  wait $2 2>/dev/null || true
  for pid in $3; do
    while [[ -e /proc/$pid ]] && ((SECONDS < deadline)); do sleep 0.02; done
  done
}

log "memory: ${#rows[@]} runtimes, $BENCH_MEMORY_RUNS idle workloads each"
for row in "${rows[@]}"; do
  for ((run = 1; run <= BENCH_MEMORY_RUNS; run++)); do
    user_pids >"$work/before"
    idle_start "$row" "$run"
    workload=$(await_workload "$((86400 + run))" 30 "$work/before") ||
      die "$row: the idle workload did not start within 30 s: $(cat "$work/idle-$run.err")"
    sleep 0.5  # let the runtime settle into its waiting state
    mapfile -t runtime < <(started_pids "$work/before" "$idle_pid" |
      grep -vxF -f <(echo "$workload"))
    runtime_memory=$(processes_memory "${runtime[@]}")
    # shellcheck disable=SC2086
    workload_memory=$(processes_memory $workload)
    sample memory "$row" "$(jq -c -n --argjson run "$run" --argjson r "$runtime_memory" \
      --argjson w "$workload_memory" --argjson names "$(process_names "${runtime[@]}")" '{run: $run,
        runtime_rss_bytes: $r.rss_bytes, runtime_pss_bytes: $r.pss_bytes,
        workload_rss_bytes: $w.rss_bytes, workload_pss_bytes: $w.pss_bytes,
        page_cache_shared_bytes: $w.file_bytes, runtime_processes: $names}')"
    idle_stop "$workload" "$idle_pid" "${runtime[*]}"
  done
done

# --- density -------------------------------------------------------------------------------------
# n = 1..K idle workloads of one runtime side by side: the PSS of all their processes, the host's
# own count of memory in use (bench_lib.sh's host_memory_used, which also holds what no process
# maps, but moves with other activity), and how long one more /bin/true takes beside them.
log "density: up to $BENCH_DENSITY_MAX idle workloads per runtime"
for row in "${rows[@]}"; do
  # The idle ones take a 40th of a CPU each, so that up to 32 of them and one workload of a
  # whole CPU fit a 2-CPU host's reservations.
  cpus=0.025
  baseline=$(host_memory_used)
  pids=()
  workloads=()
  : >"$work/density-pids"
  for ((n = 1; n <= BENCH_DENSITY_MAX; n++)); do
    user_pids >"$work/before"
    idle_start "$row" "$((100 + n))"
    pids+=("$idle_pid")
    workloads+=("$(await_workload "$((86500 + n))" 30 "$work/before")") ||
      die "$row: idle workload $n did not start within 30 s: $(cat "$work/idle-$((100 + n)).err")"
    sleep 0.3
    pss=$(instances_pss "$work/before" "$idle_pid" "$work/density-pids")
    used=$(host_memory_used)
    cpus=1
    mapfile -t command < <(row_command "$row" "density-$n" /bin/true)
    cpus=0.025
    start=$EPOCHREALTIME
    "${command[@]}" </dev/null >/dev/null 2>&1 || die "$row: /bin/true failed beside $n idle workloads"
    density_sample "$row" "$n" "$pss" $((used - baseline)) "$(ms_since "$start")"
  done
  idle_stop "${workloads[*]}" "${pids[*]}" "$(cat "$work/density-pids")"
  cpus=1
done

# --- CPU and I/O ---------------------------------------------------------------------------------
# The same self-timed workloads (bench_lib.sh) in every container and on the bare host, the
# baseline each container is compared with: the same busybox binary, from the same rootfs, and
# nothing more. I/O goes to a file in the root: the container's writable layer over the host's
# filesystem, or for the host a file on that filesystem.
row_available host "this machine, no isolation" baseline "$where" "$(uname -sr)" \
  "ROOTFS/bin/busybox sh -c SCRIPT"
timed_workload() {  # $1 row, $2 instance, $3 script, $4 output file
  if [[ $1 == host ]]; then
    PATH=$rootfs/bin:$PATH "$rootfs/bin/busybox" sh -c "$3" >"$4" 2>&1
  else
    local command
    mapfile -t command < <(row_command "$1" "$2" /bin/sh -c "$3")
    "${command[@]}" </dev/null >"$4" 2>&1
  fi
}
log "CPU: a compute loop of $BENCH_CPU_ROUNDS thousand rounds, $BENCH_CPU_RUNS runs per row"
for row in host "${rows[@]}"; do
  for ((run = 1; run <= BENCH_CPU_RUNS; run++)); do
    timed_workload "$row" "cpu-$run" "$(cpu_loop_script "$BENCH_CPU_ROUNDS")" "$work/cpu.out" ||
      die "$row: the compute loop failed: $(cat "$work/cpu.out")"
    timed_sample cpu "$row" "$work/cpu.out" "$run" cpu_sample_fields "$BENCH_CPU_ROUNDS"
  done
done
log "I/O: $BENCH_IO_MIB MiB written and read back with O_DIRECT, $BENCH_IO_RUNS runs per row"
for row in host "${rows[@]}"; do
  target=/bench-io.file
  [[ $row == host ]] && target=$work/bench-io.file
  for ((run = 1; run <= BENCH_IO_RUNS; run++)); do
    timed_workload "$row" "io-$run" "$(io_script "$target" "$BENCH_IO_MIB")" "$work/io.out" ||
      die "$row: the I/O workload failed: $(cat "$work/io.out")"
    timed_sample io "$row" "$work/io.out" "$run" io_sample_fields "$BENCH_IO_MIB"
  done
done
for metric in cpu io; do
  metric_unavailable "$metric" crun "crun cannot run a container here (its row says why)"
done

# shellcheck shell=bash
# What both halves of `tandem bench` (bench_containers.sh on this machine, bench_vms.sh on the
# machine with KVM) share: records, process memory and host memory. Sourced, never run; the
# sourcing script defines die and log.
#
# Every figure leaves as one JSON record on stdout, a line each (the report's input,
# benchmarks/bench_report.py documents the fields):
#   {"type":"row", "row":ID, "available":true|false, ...}
#   {"type":"sample", "metric":M, "row":ID, ...}
#   {"type":"unavailable", "metric":M, "row":ID, "reason":TEXT}

# A row: its id, label, level, where it ran, and either its version and command or why not.
row_available() {  # $1 id, $2 label, $3 level, $4 where, $5 version, $6 command
  jq -c -n --arg row "$1" --arg name "$2" --arg level "$3" --arg where "$4" --arg version "$5" \
    --arg command "$6" '{type: "row", row: $row, label: $name, level: $level, where: $where,
      available: true, version: $version, command: $command}'
}
row_unavailable() {  # $1 id, $2 label, $3 level, $4 where, $5 reason
  jq -c -n --arg row "$1" --arg name "$2" --arg level "$3" --arg where "$4" --arg reason "$5" \
    '{type: "row", row: $row, label: $name, level: $level, where: $where, available: false,
      reason: $reason}'
}
metric_unavailable() {  # $1 metric, $2 row, $3 reason
  jq -c -n --arg metric "$1" --arg row "$2" --arg reason "$3" \
    '{type: "unavailable", metric: $metric, row: $row, reason: $reason}'
}
# A sample: the metric, the row, then a JSON object of its fields.
sample() {  # $1 metric, $2 row, $3 fields (JSON object)
  jq -c -n --arg metric "$1" --arg row "$2" --argjson fields "$3" \
    '{type: "sample", metric: $metric, row: $row} + $fields'
}

ms_since() {  # $1: an $EPOCHREALTIME taken before, $2 one taken after (default now); prints
  # milliseconds, 3 decimals
  local now=${2:-$EPOCHREALTIME}
  awk -v a="$1" -v b="$now" 'BEGIN { printf "%.3f", (b - a) * 1000 }'
}

# Host memory in use, in bytes, as free(1) counts it: neither the page cache nor reclaimable slab,
# so that files read along the way do not count, and what the kernel cannot take back (processes'
# pages, page tables, namespaces and cgroups, a guest's RAM) does.
host_memory_used() {
  awk '/^(MemTotal|MemFree|Buffers|Cached|SReclaimable):/ { v[$1] = $2 }
    END { printf "%d\n", (v["MemTotal:"] - v["MemFree:"] - v["Buffers:"] - v["Cached:"] \
      - v["SReclaimable:"]) * 1024 }' /proc/meminfo
}

# The user-space processes now running, one pid a line: kernel threads have no command line.
user_pids() {
  local dir first
  for dir in /proc/[0-9]*; do
    first=''
    IFS= read -r -d '' first 2>/dev/null <"$dir/cmdline" || true
    [[ -z $first ]] || echo "${dir#/proc/}"
  done
}

# The pids in list $2 (a file) that were not in list $1 (a file).
new_pids() {
  grep -vxF -f "$1" "$2" || true
}

# Of the new pids in file $1, those a runtime started as $2 owns: its own subtree, and whatever
# left it for init or a subreaper (a monitor that daemonized). This script's own subshells are
# new too, but descend from $$ without passing through $2.
runtime_pids() {  # $1 file of new pids, $2 the runtime's pid
  local pid ancestor stat
  while read -r pid; do
    ancestor=$pid
    while [[ $ancestor != "$2" && $ancestor != "$$" && $ancestor -gt 1 ]]; do
      read -r stat 2>/dev/null <"/proc/$ancestor/stat" || { ancestor=0; break; }
      stat=${stat##*) }
      read -r _ ancestor _ <<<"$stat"
    done
    [[ $ancestor == "$$" || $ancestor == 0 ]] || echo "$pid"
  done <"$1"
}

# Pids among $@ whose command line is exactly `/bin/sleep MARKER`: the idle workload itself, and
# not the runtime that was given the same words as its last arguments.
idle_workload_pids() {  # $1 marker, then pids
  local marker=$1 pid
  shift
  for pid in "$@"; do
    [[ $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") == "/bin/sleep $marker " ]] && echo "$pid"
  done
  return 0
}

# RSS and PSS of the processes given, summed, as {"rss_bytes":N,"pss_bytes":N,"file_bytes":N}.
# smaps_rollup gives PSS: pages shared with others (the page cache's busybox, a runtime's
# libraries) count a share each. file_bytes is the resident memory that is not anonymous: the
# page cache the processes map, which every process mapping the same files shares.
processes_memory() {
  local pid rss=0 pss=0 anonymous=0 key kib
  for pid in "$@"; do
    while read -r key kib _; do
      case $key in
        Rss:) rss=$((rss + kib)) ;;
        Pss:) pss=$((pss + kib)) ;;
        Anonymous:) anonymous=$((anonymous + kib)) ;;
      esac
    done 2>/dev/null <"/proc/$pid/smaps_rollup" || true
  done
  printf '{"rss_bytes": %d, "pss_bytes": %d, "file_bytes": %d}\n' $((rss * 1024)) \
    $((pss * 1024)) $(((rss - anonymous) * 1024))
}

# The processes of the workload started as runtime pid $2, one pid a line: those new since the
# snapshot in file $1 that the runtime owns (runtime_pids).
started_pids() {  # $1 snapshot taken before the start, $2 the runtime's pid
  user_pids >"$1.after"
  new_pids "$1" "$1.after" >"$1.new"
  runtime_pids "$1.new" "$2"
}
# For density: adds the processes of the workload just started as runtime pid $2 to the list in
# file $3, and prints the PSS of every process in the list.
instances_pss() {  # $1 snapshot taken before the start, $2 the runtime's pid, $3 file of pids
  local pids
  started_pids "$1" "$2" >>"$3"
  mapfile -t pids <"$3"
  processes_memory "${pids[@]}" | jq .pss_bytes
}
# One density sample: n workloads hold $3 bytes of PSS and $4 bytes of the host's memory in use,
# and one more started in $5 ms.
density_sample() {  # $1 row, $2 n, $3 PSS bytes, $4 host bytes, $5 start ms
  sample density "$1" "$(jq -c -n --argjson n "$2" --argjson pss "$3" --argjson bytes "$4" \
    --argjson start "$5" \
    '{n: $n, processes_pss_bytes: $pss, host_memory_bytes: $bytes, start_ms: $start}')"
}

# The processes' names (comm), as a JSON array: what a memory figure is made of.
process_names() {
  local pid
  for pid in "$@"; do
    cat 2>/dev/null "/proc/$pid/comm" || true
  done | jq -R . | jq -s -c .
}

# Waits up to $2 seconds for the idle workload `/bin/sleep $1` to appear among the pids that
# are new since the snapshot in file $3; prints the pids, or fails.
await_workload() {  # $1 marker, $2 seconds, $3 snapshot file
  local deadline=$((SECONDS + $2)) found
  while ((SECONDS < deadline)); do
    user_pids >"$3.now"
    # shellcheck disable=SC2046  # one pid a word
    found=$(idle_workload_pids "$1" $(new_pids "$3" "$3.now"))
    if [[ -n $found ]]; then
      echo "$found"
      return 0
    fi
    sleep 0.05
  done
  return 1
}

# The workloads that time themselves, as `sh -c` scripts calling busybox's applets by name, so
# that the same words run the same binary in a container, a guest and on the bare host. They
# read /proc/uptime (10 ms steps) around the work, so that no start or teardown counts, and
# print KEY=MS.
# Centiseconds since boot; the "1" keeps a fraction such as .08 from reading as octal.
# shellcheck disable=SC2016  # expanded by the workload's shell
uptime_cs='read t _ </proc/uptime; echo $((${t%.*} * 100 + 1${t#*.} - 100))'
# A compute loop: $1 thousand rounds of arithmetic in awk, one process on one CPU, no syscalls
# in the loop (so a CPU quota of one CPU or more does not hold it back).
cpu_loop_script() {  # $1 thousands of rounds
  echo "a=\$($uptime_cs); busybox awk 'BEGIN { for (i = 0; i < $1 * 1000; i++) s += i * i }';" \
    "b=\$($uptime_cs); echo loop_ms=\$(((b - a) * 10))"
}
# Sequential I/O: $2 MiB written to $1 with O_DIRECT and an fsync, then read back with O_DIRECT,
# so that neither side is the page cache; the file is removed after.
io_script() {  # $1 target (a file, or a whole disk), $2 MiB
  echo "a=\$($uptime_cs); busybox dd if=/dev/zero of=$1 bs=1M count=$2 oflag=direct" \
    "conv=fsync 2>/dev/null || exit 1; b=\$($uptime_cs); busybox dd if=$1 of=/dev/null bs=1M" \
    "count=$2 iflag=direct 2>/dev/null || exit 1; c=\$($uptime_cs); [ -b $1 ] || rm -f $1;" \
    "echo write_ms=\$(((b - a) * 10)) read_ms=\$(((c - b) * 10))"
}
# One sample of metric $1 for row $2, run $4, from a self-timed workload's output in file $3:
# its fields as function $5 (cpu_sample_fields, io_sample_fields) reads them for work size $6.
timed_sample() {  # $1 metric, $2 row, $3 output file, $4 run, $5 fields function, $6 work size
  local fields
  fields=$("$5" "$3" "$6") || die "$2: the $1 workload printed no time: $(tail -c 1500 "$3")"
  sample "$1" "$2" "$(jq -c --argjson run "$4" '. + {run: $run}' <<<"$fields")"
}

# The samples from a timed workload's output (KEY=MS words; QEMU's guest frames its stdout on
# COM1, so the words are searched for, not parsed by line).
cpu_sample_fields() {  # $1 output file, $2 thousands of rounds
  local ms
  ms=$(grep -ao 'loop_ms=[0-9]*' "$1" | tail -n 1 | cut -d= -f2)
  [[ -n $ms && $ms -gt 0 ]] || return 1
  jq -c -n --argjson ms "$ms" --argjson rounds "$2" '{loop_ms: $ms, thousand_rounds: $rounds}'
}
io_sample_fields() {  # $1 output file, $2 MiB
  local write read
  write=$(grep -ao 'write_ms=[0-9]*' "$1" | tail -n 1 | cut -d= -f2)
  read=$(grep -ao 'read_ms=[0-9]*' "$1" | tail -n 1 | cut -d= -f2)
  [[ -n $write && -n $read && $write -gt 0 && $read -gt 0 ]] || return 1
  jq -c -n --argjson w "$write" --argjson r "$read" --argjson mib "$2" \
    '{write_mib_s: ($mib * 1000 / $w), read_mib_s: ($mib * 1000 / $r), mib: $mib}'
}

# shellcheck shell=bash
# What the microVM benchmarks (vm_boot.sh, virtio_io.sh) share: tandem's kernel command line for
# the peer VMM and, inside the emulated KVM host (tools/kvm-host), timing, counting KVM's exits
# with the host's tracepoints and scrubbing the host's free pages. Sourced, never run; the
# sourcing script defines die.

# The kernel command line tandem's VMM gives its guests, read from its source so that the peer
# boots with the same and the two cannot drift apart: the string literals of kBaseCmdline, then
# the rdinit= the VMM appends.
tandem_cmdline() {  # $1: the repository
  local line
  line=$(sed -n '/kBaseCmdline =/,/;/p' "$1/vmm/workload_vm.cpp" |
    grep -o '"[^"]*"' | tr -d '"' | tr -d '\n')
  [[ $line == *reboot=k* ]] ||
    die "cannot read kBaseCmdline from vmm/workload_vm.cpp (got '$line')"
  echo "$line rdinit=/.tandem/init"
}

ms_since() {  # $1: an $EPOCHREALTIME taken before; prints milliseconds, 3 decimals
  local now=$EPOCHREALTIME
  awk -v a="$1" -v b="$now" 'BEGIN { printf "%.3f", (b - a) * 1000 }'
}

# Exits counted by the host's tracepoints, for any VMM, with histogram triggers; only one VMM runs
# at a time in the host, so a histogram of one run is that VMM's:
# - kvm_userspace_exit, by reason: exits to userspace, exactly (one hit per return from KVM_RUN);
# - kvm_exit, by exit code (AMD SVM's, as the host is AMD): every exit, by why it happened;
# - kvm_pio, by port and direction, and kvm_msr, by MSR and direction: the two kinds of exit a
#   guest kernel's configuration and command line decide most.
readonly tracing=/sys/kernel/debug/tracing/events/kvm
readonly traced_events=(kvm_userspace_exit kvm_exit kvm_pio kvm_msr)
declare -A trace_keys=([kvm_userspace_exit]=reason [kvm_exit]=exit_reason [kvm_pio]=port,rw
  [kvm_msr]=ecx,write)
trace_start() {
  [[ -w $tracing/kvm_userspace_exit/trigger ]] || return 0
  local event
  for event in "${traced_events[@]}"; do
    echo "hist:keys=${trace_keys[$event]}:vals=hitcount:size=4096" >"$tracing/$event/trigger"
  done
}
# One histogram as {"total": N, "by": {"KEY[/KEY2]": N, ...}}, keys in hex.
trace_histogram() {  # $1: event
  awk '
    /^\{ / {
      line = $0; sub(/^\{ */, "", line); sub(/ *\}.*/, "", line)
      n = split(line, parts, / *, */); key = ""
      for (i = 1; i <= n; i++) {
        split(parts[i], kv, /: */); gsub(/ /, "", kv[2])
        key = key (i > 1 ? "/" : "") sprintf("0x%x", kv[2])
      }
      match($0, /hitcount: *[0-9]+/); count = substr($0, RSTART + 9) + 0
      by[key] = count
    }
    /Hits:/ { total = $2 }
    END {
      printf "{\"total\": %d, \"by\": {", total; sep = ""
      for (k in by) { printf "%s\"%s\": %d", sep, k, by[k]; sep = ", " }
      print "}}"
    }' "$tracing/$1/hist"
}
# Prints {"kvm_userspace_exit": {...}, "kvm_exit": {...}, ...}, or null without tracing.
trace_stop() {
  [[ -w $tracing/kvm_userspace_exit/trigger ]] || { echo null; return; }
  local event
  for event in "${traced_events[@]}"; do
    printf '{"%s": %s}\n' "$event" "$(trace_histogram "$event")"
    echo "!hist:keys=${trace_keys[$event]}:vals=hitcount:size=4096" >"$tracing/$event/trigger"
  done | jq -s 'add'
}

# The emulated host (QEMU TCG) makes the first write to a page that held a nested guest's code
# slow: about a second per boot, paid by whichever process next zeroes the pages a VM left behind
# (benchmarks/README.md has the measurements). A CPU with real KVM has no such cost, so before each
# timed run the pages are rewritten outside the timing: a tmpfs file of BENCH_SCRUB_MIB zeroes,
# then removed, leaves the host's free lists holding pages that no guest ran code from. Both VMMs
# get the same scrub; BENCH_SCRUB_MIB=0 measures the raw host instead.
scrub_free_pages() {
  ((BENCH_SCRUB_MIB > 0)) || return 0
  local file=/dev/shm/tandem-bench-scrub
  dd if=/dev/zero of="$file" bs=1M count="$BENCH_SCRUB_MIB" status=none ||
    die "cannot write $BENCH_SCRUB_MIB MiB to $file to scrub the host's free pages"
  rm -f "$file"
}


# shellcheck shell=bash
# What the VM benchmarks (vm_boot.sh, virtio_io.sh, bench_vms.sh and bench.sh) share: tandem's
# kernel command line for the peer VMM, the peers' initramfs and QEMU command, VMM memory and,
# inside the emulated KVM host (tools/kvm-host), timing, counting KVM's exits with the host's
# tracepoints and scrubbing the host's free pages. Sourced, never run; the
# sourcing script defines die, and memory_mib (the guest's memory) for QEMU's command.

# shellcheck source=bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"

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

# Exits counted by the host's tracepoints, for any VMM, with histogram triggers; only one VMM runs
# at a time in the host, so a histogram of one run is that VMM's:
# - kvm_userspace_exit, by reason: exits to userspace, exactly (one hit per return from KVM_RUN);
# - kvm_exit, by exit code (AMD SVM's, as the host is AMD): every exit, by why it happened;
# - kvm_pio, by port and direction, and kvm_msr, by MSR and direction: the two kinds of exit a
#   guest kernel's configuration and command line decide most.
readonly tracing=/sys/kernel/debug/tracing/events/kvm
readonly traced_events=(kvm_userspace_exit kvm_exit kvm_pio kvm_msr)
# shellcheck disable=SC2054  # the commas are the triggers' key syntax
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

# A boot's timeline as the host's KVM tracepoints see it, the same for every VMM, on the trace
# clock (CLOCK_MONOTONIC), in two trace instances of the benchmark's own so that the host's other
# tracing is left alone:
# - tandem-bench holds this script's launch and end markers and the guest's milestones: tandem's
#   guest init writes its status words to port 0xf4 (the kind in the top byte: 1 init started,
#   5 workload started, 2 or 3 workload ended), a plain init the same kinds as single bytes to
#   COM1 (0x3f8). A QEMU guest's status writes go nowhere, but KVM traces them all the same.
# - tandem-bench-first-entry keeps only the first kvm_entry, the guest's first instruction: its
#   buffer is a page and never overwritten, so the later entries are dropped, cheaply.
# Only one VM may run while a timeline is taken: the tracepoints see every VM on the host.
readonly timeline_dir=/sys/kernel/debug/tracing/instances/tandem-bench
readonly first_entry_dir=${timeline_dir}-first-entry
# Sets up the two instances; prints why not and fails where the host has no tracefs or no KVM
# tracepoints.
timeline_setup() {
  local instances=${timeline_dir%/*}
  if [[ ! -d $instances ]]; then
    echo "the host has no tracefs at ${instances%/*} (debugfs is not mounted, or tracing is off)"
    return 1
  fi
  mkdir -p "$timeline_dir" "$first_entry_dir" 2>/dev/null || true
  if [[ ! -w $timeline_dir/events/kvm/kvm_pio/filter ]]; then
    echo "the host's tracefs has no KVM tracepoints (kvm_pio) to time a guest's boot with"
    return 1
  fi
  local dir
  for dir in "$timeline_dir" "$first_entry_dir"; do
    echo 0 >"$dir/tracing_on"
    echo mono >"$dir/trace_clock"
  done
  echo 'rw == 1 && (port == 0xf4 || (port == 0x3f8 && val < 6))' \
    >"$timeline_dir/events/kvm/kvm_pio/filter"
  echo 1 >"$timeline_dir/events/kvm/kvm_pio/enable"
  echo 0 >"$first_entry_dir/options/overwrite"
  echo 4 >"$first_entry_dir/buffer_size_kb"
  echo 1 >"$first_entry_dir/events/kvm/kvm_entry/enable"
}
timeline_teardown() {
  local dir
  for dir in "$timeline_dir" "$first_entry_dir"; do
    [[ -d $dir ]] || continue
    echo 0 >"$dir/events/enable" 2>/dev/null || true
    rmdir "$dir" 2>/dev/null || true
  done
}
timeline_begin() {
  local dir
  for dir in "$timeline_dir" "$first_entry_dir"; do
    : >"$dir/trace"
    echo 1 >"$dir/tracing_on"
  done
  echo tandem-bench-launch >"$timeline_dir/trace_marker"
}
# The end of what a timeline times: at once, before anything forks (under emulation a fork costs
# tens of milliseconds).
timeline_mark_end() {
  echo tandem-bench-end >"$timeline_dir/trace_marker"
}
# Ends a timeline begun with timeline_begin and marked with timeline_mark_end, and prints it as milliseconds from the launch:
# {"first_entry": ms, "init": ms, "workload": ms, "exit": ms, "end": ms}, each milestone the first
# of its kind written to port $1 (0xf4 or 0x3f8); a milestone the guest never wrote is absent.
timeline_end() {  # $1 the milestones' port
  local dir
  for dir in "$timeline_dir" "$first_entry_dir"; do echo 0 >"$dir/tracing_on"; done
  cat "$first_entry_dir/trace" "$timeline_dir/trace" | awk -v port="$1" '
    function stamp(   i) { for (i = 1; i < NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) return i; return 0 }
    function keep(name, t) { if (!(name in at)) at[name] = t }
    function hex(s,   n, i) {
      s = tolower(s); sub(/^0x/, "", s)
      for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
      return n
    }
    /^#/ { next }
    {
      i = stamp(); if (!i) next
      t = substr($i, 1, length($i) - 1); event = $(i + 1)
      if (event == "kvm_entry:" && (!("first_entry" in at) || t < at["first_entry"])) at["first_entry"] = t
      if (event == "tracing_mark_write:" && $(i + 2) == "tandem-bench-launch") keep("launch", t)
      if (event == "tracing_mark_write:" && $(i + 2) == "tandem-bench-end") keep("end", t)
      if (event == "kvm_pio:" && $(i + 4) == port) {
        value = hex($(i + 10)); kind = port == "0xf4" ? int(value / 16777216) : value
        if (kind == 1) keep("init", t)
        if (kind == 5) keep("workload", t)
        if (kind == 2 || kind == 3) keep("exit", t)
      }
    }
    END {
      if (!("launch" in at)) exit 1
      printf "{"; sep = ""
      for (name in at) if (name != "launch") {
        printf "%s\"%s\": %.3f", sep, name, (at[name] - at["launch"]) * 1000; sep = ", "
      }
      print "}"
    }'
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

# The per-VM debugfs folder of process $1 as a JSON object of its plain counters. Histogram
# files (several numbers) are left out.
debugfs_counters() {
  local dirs=(/sys/kernel/debug/kvm/"$1"-*)
  local dir=${dirs[0]}
  [[ -d $dir ]] || { echo null; return; }
  local file value
  for file in "$dir"/*; do
    [[ -f $file ]] || continue
    value=$(<"$file") || continue
    [[ $value =~ ^[0-9]+$ ]] || continue
    printf '{"%s": %s}\n' "${file##*/}" "$value"
  done | jq -s 'add // {}'
}

# RSS and PSS of process $1 with and without guest RAM, from smaps. Guest RAM is the anonymous
# mapping at least as large as the guest's memory (QEMU adds alignment and a guard page around
# it, so it can be a little larger); nothing else a VMM maps with KVM comes near that size.
smaps_memory() {  # $1: pid, $2: the guest's memory in MiB
  awk -v ram_kib=$(($2 * 1024)) '
    /^[0-9a-f]+-[0-9a-f]+ / { anon = (NF < 6); next }
    /^Size:/ { size = $2; is_ram = anon && size >= ram_kib; if (is_ram) ram_size += size; next }
    /^Rss:/ { rss += $2; if (is_ram) ram_rss += $2; next }
    /^Pss:/ { pss += $2; if (is_ram) ram_pss += $2; next }
    END {
      printf "{\"rss_bytes\": %d, \"pss_bytes\": %d, \"guest_ram_mapping_bytes\": %d, ", \
        (rss - ram_rss) * 1024, (pss - ram_pss) * 1024, ram_size * 1024
      printf "\"guest_ram_rss_bytes\": %d, \"total_rss_bytes\": %d}\n", ram_rss * 1024, rss * 1024
    }' "/proc/$1/smaps"
}

qemu_command() {  # $1: folder, $2: kernel, $3: command line (default tandem's); fills qemu
  # microvm wires up only COM1 (one -serial), so COM2, the kernel console as in tandem, is an
  # explicit isa-serial; and it has no i8042, without which reboot=k never resets the machine
  # (the kernel's reset loop spins on port 0x64), so one is added; and a virtio-rng, as every
  # tandem microVM has one.
  # shellcheck disable=SC2054  # the commas are QEMU's option syntax
  # shellcheck disable=SC2034  # the caller reads it
  qemu=(qemu-system-x86_64 -M "$BENCH_MACHINE" -accel kvm -cpu host -m "${memory_mib}M" -smp 1
    -nodefaults -no-user-config -display none
    -serial "file:$1/com1" -chardev "file,id=console,path=$1/console"
    -device isa-serial,chardev=console,iobase=0x2f8,irq=3 -device i8042 -device virtio-rng-device
    -L /usr/share/qemu -kernel "$2" -initrd "$BENCH_INITRD" -append "${3:-$BENCH_CMDLINE}"
    -no-reboot)
}

# QEMU cannot tell us the workload's status (the status port goes nowhere there), so a run counts
# only if the guest reached its reset without a panic.
qemu_check_console() {  # $1: folder, $2: run number
  if grep -q 'Kernel panic' "$1/console" || ! grep -q 'reboot: Restarting system' "$1/console"; then
    tail -n 20 "$1/console" >&2
    die "QEMU run $2: the guest did not reach its reset cleanly (console above)"
  fi
}

# One initramfs for tandem and its peers: the busybox rootfs plus what tandem's VMM would append,
# so that a peer's guest runs tandem's guest init on the same workload. The workload JSON is what
# toJson (common/workload.cpp) produces for `tandem run --isolation vm --cpus 1 --memory M --
# COMMAND...`: nlohmann's compact dump, keys sorted, no id in the vm path. tandem still appends
# its own second archive with the same two files; the kernel unpacks it over these, so its guest
# sees the same.
shared_initramfs() {  # $1 repository, $2 guest init, $3 tandem-mkinitramfs, $4 output,
  # $5 memory in MiB, then the workload's command
  local tree=$1 init=$2 packer=$3 output=$4 mib=$5
  shift 5
  local rootfs
  rootfs=$(mktemp -d /tmp/tandem-initramfs.XXXXXX)
  "$tree/tools/mkrootfs/tandem-mkrootfs-busybox" "$rootfs" >/dev/null
  install -d -m 0700 "$rootfs/.tandem"
  install -m 0700 "$init" "$rootfs/.tandem/init"
  # The command as a JSON array; jq would take an argument such as -c as its own option.
  jq -j -c -S -n --argjson memory $((mib << 20)) \
    --argjson command "$(printf '%s\n' "$@" | jq -R . | jq -s -c .)" '{
    capAdd: [], capDrop: [], command: $command, env: [], gidMappings: [], hostname: "",
    id: "", init: false, isolation: "vm", limits: {cpuMilli: 1000, memory: $memory}, name: "",
    network: "none", readOnlyRootfs: false, removeOnExit: false, rlimits: [], rootfs: "",
    rootfsLayers: [], seccomp: true, tty: false, uidMappings: [],
    user: {additionalGids: [], gid: 0, uid: 0}, workdir: "/"}' >"$rootfs/.tandem/workload.json"
  chmod 0600 "$rootfs/.tandem/workload.json"
  "$packer" "$rootfs" "$output" >&2
  rm -rf --one-file-system "$rootfs"
}

# The classic VM's initramfs: the busybox rootfs with a plain /init, as a distribution's
# initramfs would have, that runs the workload with its output on COM1 and resets the machine. It
# marks the milestones tandem's guest init writes to the status port as single bytes on COM1, the
# same kinds (timeline_end): started, workload started, workload ended.
# tandem's guest init is not used there, as inside the emulated host its first status-port write
# stops it with a general protection fault on a pc or q35 machine. QEMU there synchronizes the
# vCPU's registers through KVM (KVM_GET_SREGS, then KVM_SET_SREGS), and KVM reports the task
# register as a busy TSS, which TCG's I/O permission check, unlike a real CPU's, refuses. The
# microvm machine makes no such round trip, and tandem's VMM sets the registers once, before the
# guest runs.
plain_initramfs() {  # $1 repository, $2 tandem-mkinitramfs, $3 output, $4 the workload's script,
  # then kernel modules to load first, in order (a distribution kernel's drivers)
  local rootfs module loads=()
  rootfs=$(mktemp -d /tmp/tandem-initramfs.XXXXXX)
  "$1/tools/mkrootfs/tandem-mkrootfs-busybox" "$rootfs" >/dev/null
  printf '%s\n' "$4" >"$rootfs/workload.sh"
  if (($# > 4)); then
    mkdir "$rootfs/modules"
    for module in "${@:5}"; do
      cp "$module" "$rootfs/modules/"
      loads+=("insmod /modules/${module##*/}")
    done
    # The disk's node appears once its driver has probed it, which may end after insmod.
    loads+=('for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; sleep 0.2; done')
  fi
  printf '%s\n' '#!/bin/sh' 'mount -t proc proc /proc' 'mount -t devtmpfs devtmpfs /dev' \
    "${loads[@]}" "printf '\\001' >/dev/ttyS0" "printf '\\005' >/dev/ttyS0" \
    'sh /workload.sh >/dev/ttyS0 2>&1' "printf '\\002' >/dev/ttyS0" 'reboot -f' >"$rootfs/init"
  chmod 0755 "$rootfs/init"
  "$2" "$rootfs" "$3" >&2
  rm -rf --one-file-system "$rootfs"
}

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
# initramfs would have, that runs the workload with its output on COM1 and resets the machine.
# tandem's guest init is not used there: on a q35 machine it stopped with a general protection
# fault at its first status-port write, which the microvm machine and tandem's VMM allow.
plain_initramfs() {  # $1 repository, $2 tandem-mkinitramfs, $3 output, $4 the workload's script
  local rootfs
  rootfs=$(mktemp -d /tmp/tandem-initramfs.XXXXXX)
  "$1/tools/mkrootfs/tandem-mkrootfs-busybox" "$rootfs" >/dev/null
  printf '%s\n' "$4" >"$rootfs/workload.sh"
  printf '%s\n' '#!/bin/sh' 'mount -t proc proc /proc' 'mount -t devtmpfs devtmpfs /dev' \
    'sh /workload.sh >/dev/ttyS0 2>&1' 'reboot -f' >"$rootfs/init"
  chmod 0755 "$rootfs/init"
  "$2" "$rootfs" "$3" >&2
  rm -rf --one-file-system "$rootfs"
}

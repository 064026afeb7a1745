#!/bin/bash
# The VM half of `tandem bench`, on a machine with KVM (the emulated KVM host where this machine
# has none): tandem's microVM beside QEMU's microvm machine and a classic q35 VM through libvirt,
# the same guest kernel, kernel command line, 256 MiB and one vCPU. Prints one JSON record a line on stdout (see
# bench_lib.sh); progress goes to stderr. bench.sh prepares everything and passes it through the
# environment (tools/kvm-host passes only what it names):
#   BENCH_TANDEM        tandem, with tandem-vmm and tandem-guest-init beside it
#   BENCH_KERNEL        the guest kernel (bzImage)
#   BENCH_INITRD_TRUE   the shared initramfs whose workload is `true`
#   BENCH_INITRD_IDLE   the same with the idle workload `sh -c 'echo idle-ready; exec sleep N'`
#   BENCH_CMDLINE       tandem's kernel command line, for QEMU's guest too
#   BENCH_MACHINE       QEMU's -M value
#   BENCH_WHERE         where this runs, as the report names it
#   BENCH_INITRD_CPU    the same with the compute loop of BENCH_CPU_ROUNDS (bench_lib.sh)
#   BENCH_INITRD_IO     the same with the I/O workload on /dev/vda, BENCH_IO_MIB of it
#   BENCH_PLAIN_TRUE, BENCH_PLAIN_IDLE, BENCH_PLAIN_CPU   the classic VM's initramfs for each
#                       workload (vm_bench_lib.sh's plain_initramfs)
#   BENCH_DISTRO_KERNEL, BENCH_PLAIN_IO   the classic VM's disk is a PCI device, which the guest
#                       kernel cannot drive: its I/O runs boot Debian's own kernel, with an
#                       initramfs that loads its virtio-blk modules; both empty, and
#   BENCH_DISTRO_REASON saying why, where there is no such kernel
#   BENCH_SCRUB_MIB, BENCH_STARTUP_RUNS, BENCH_MEMORY_RUNS, BENCH_DENSITY_MAX, BENCH_CPU_RUNS,
#   BENCH_IO_RUNS       how much to measure
set -euo pipefail

readonly prog=${0##*/}
readonly memory_mib=256
die() {
  echo "$prog: $*" >&2
  exit 1
}
log() { echo "[vms] $*" >&2; }

# shellcheck source=vm_bench_lib.sh
source "$(dirname "$0")/vm_bench_lib.sh"

: "${BENCH_TANDEM:?}" "${BENCH_KERNEL:?}" "${BENCH_INITRD_TRUE:?}" "${BENCH_INITRD_IDLE:?}"
: "${BENCH_CMDLINE:?}" "${BENCH_MACHINE:?}" "${BENCH_WHERE:?}" "${BENCH_SCRUB_MIB:?}"
: "${BENCH_STARTUP_RUNS:?}" "${BENCH_MEMORY_RUNS:?}" "${BENCH_DENSITY_MAX:?}"
: "${BENCH_INITRD_CPU:?}" "${BENCH_INITRD_IO:?}" "${BENCH_CPU_ROUNDS:?}" "${BENCH_IO_MIB:?}"
: "${BENCH_CPU_RUNS:?}" "${BENCH_IO_RUNS:?}" "${BENCH_PLAIN_TRUE:?}" "${BENCH_PLAIN_IDLE:?}"
: "${BENCH_PLAIN_CPU:?}" "${BENCH_PLAIN_IO?}" "${BENCH_DISTRO_KERNEL?}" "${BENCH_DISTRO_REASON?}"
[[ -e /dev/kvm ]] || die "no /dev/kvm here"
work=$(mktemp -d /tmp/tandem-bench-vms.XXXXXX)
readonly work
# qemu_command's initramfs (vm_bench_lib.sh); the idle runs name theirs.
# shellcheck disable=SC2034
BENCH_INITRD=$BENCH_INITRD_TRUE

tandem_command() {  # the workload's arguments; fills command
  command=("$BENCH_TANDEM" run --isolation vm --kernel "$BENCH_KERNEL" --cpus 1
    --memory "${memory_mib}M" --timeout 600 --rm "$@")
}

# --- rows ----------------------------------------------------------------------------------------
rows=()
tandem_command --initramfs "$BENCH_INITRD_TRUE" -- true
if out=$("${command[@]}" </dev/null 2>&1); then
  rows+=(tandem-microvm)
  row_available tandem-microvm "tandem (microVM)" microvm "$BENCH_WHERE" \
    "$("$BENCH_TANDEM" --version)" "$(printf '%q ' "${command[@]}")"
else
  row_unavailable tandem-microvm "tandem (microVM)" microvm "$BENCH_WHERE" \
    "tandem cannot boot a microVM here: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
fi
qemu_command "$work/probe" "$BENCH_KERNEL"
# shellcheck disable=SC2154  # qemu_command fills it
qemu_command_line=$(printf '%q ' "${qemu[@]}")
if ! command -v qemu-system-x86_64 >/dev/null; then
  row_unavailable qemu-microvm "QEMU microvm" microvm "$BENCH_WHERE" \
    "qemu-system-x86_64 is not installed here"
else
  rows+=(qemu-microvm)
  row_available qemu-microvm "QEMU microvm" microvm "$BENCH_WHERE" \
    "$(qemu-system-x86_64 --version | head -n 1)" "$qemu_command_line"
fi

# The classic full VM: libvirt's QEMU on a q35 machine with SeaBIOS, ACPI and PCI, booting the
# same kernel with a plain init. Inside the emulated host this script starts a libvirtd of its
# own, configured to run QEMU as root without cgroups, namespaces or a security driver (the
# emulated host has none of their daemons); on a real host it uses the system's.
readonly libvirt_uri=qemu:///system
libvirt_start() {
  if ! command -v libvirtd >/dev/null || ! command -v virsh >/dev/null; then
    echo "libvirtd and virsh are not installed here"
    return 1
  fi
  if [[ $BENCH_WHERE != host ]]; then
    mkdir -p /etc/libvirt /var/lib/libvirt/qemu /var/cache/libvirt/qemu /var/log/libvirt/qemu
    [[ -e /var/run ]] || ln -s /run /var/run
    # libvirt resolves its default QEMU user before it reads qemu.conf.
    grep -q '^libvirt-qemu:' /etc/passwd 2>/dev/null ||
      echo 'libvirt-qemu:x:64055:64055::/var/lib/libvirt:/bin/false' >>/etc/passwd
    grep -q '^libvirt-qemu:' /etc/group 2>/dev/null ||
      printf '%s\n' 'libvirt-qemu:x:64055:' 'kvm:x:108:' >>/etc/group
    printf '%s\n' 'auth_unix_rw = "none"' >/etc/libvirt/libvirtd.conf
    printf '%s\n' 'user = "root"' 'group = "root"' 'dynamic_ownership = 0' 'remember_owner = 0' \
      'security_driver = "none"' 'cgroup_controllers = [ ]' 'namespaces = [ ]' \
      'stdio_handler = "file"' >/etc/libvirt/qemu.conf
    libvirtd >"$work/libvirtd.log" 2>&1 &
    libvirtd_pid=$!
  fi
  local i
  for ((i = 0; i < 60; i++)); do
    timeout 60 virsh -c "$libvirt_uri" version >/dev/null 2>&1 && return 0
    [[ -z ${libvirtd_pid:-} ]] || kill -0 "$libvirtd_pid" 2>/dev/null || break
    sleep 1
  done
  echo "libvirtd did not answer at $libvirt_uri: $(tail -n 3 "$work/libvirtd.log" 2>/dev/null | tr '\n' ' ')"
  return 1
}
libvirt_xml() {  # $1 name, $2 initramfs, $3 folder for its serial files, $4 kernel, [$5 disk]
  local cmdline=${BENCH_CMDLINE/rdinit=\/.tandem\/init/rdinit=/init} disk=''
  [[ -z ${5:-} ]] || disk="<disk type='file' device='disk'><driver name='qemu' type='raw' \
cache='writeback' io='threads'/><source file='$5'/><target dev='vda' bus='virtio'/></disk>"
  cat <<EOX
<domain type='kvm'>
  <name>$1</name>
  <memory unit='MiB'>$memory_mib</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$4</kernel>
    <initrd>$2</initrd>
    <cmdline>$cmdline</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <cpu mode='host-model'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <serial type='file'><source path='$3/com1'/><target port='0'/></serial>
    <serial type='file'><source path='$3/console'/><target port='1'/></serial>
    <video><model type='none'/></video>
    <memballoon model='none'/>
    $disk
  </devices>
</domain>
EOX
}
# Starts domain $1 booting initramfs $2, on kernel $3 (default the guest kernel) with disk file
# $4 (default none); sets libvirt_pid to its QEMU's pid.
libvirt_create() {  # $1 name, $2 initramfs, [$3 kernel, $4 disk]
  local dir=$work/libvirt-$1
  mkdir -p "$dir"
  libvirt_xml "$1" "$2" "$dir" "${3:-$BENCH_KERNEL}" "${4:-}" >"$dir/domain.xml"
  timeout 120 virsh -c "$libvirt_uri" create "$dir/domain.xml" >/dev/null 2>"$dir/err" ||
    die "libvirt: cannot create domain $1 (virsh exit $?): $(cat "$dir/err")"
  libvirt_pid=$(cat "/run/libvirt/qemu/$1.pid")
  libvirt_out=$dir/com1
}
# A zombie has ended: this script's own children stay one until it waits for them.
ended() {  # $1 pid
  local stat
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 0
  [[ ${stat##*) } == Z* ]]
}
await_exit() {  # $1 pid, $2 seconds
  local deadline=$((SECONDS + $2))
  until ended "$1"; do
    ((SECONDS < deadline)) || die "pid $1 ($(cat "/proc/$1/comm" 2>/dev/null)) did not end within $2 s"
    sleep 0.02
  done
}
if reason=$(libvirt_start); then
  rows+=(libvirt-vm)
  row_available libvirt-vm "libvirt (QEMU q35, SeaBIOS)" full-vm "$BENCH_WHERE" \
    "$(virsh -c "$libvirt_uri" version 2>/dev/null |
      sed -n 's/^Using library: //p; s/^Running hypervisor: //p' | paste -sd, | sed 's/,/, /')" \
    "virsh create DOMAIN.xml (q35, SeaBIOS, ACPI, 1 vCPU, ${memory_mib} MiB, the same kernel)"
else
  row_unavailable libvirt-vm "libvirt (QEMU q35, SeaBIOS)" full-vm "$BENCH_WHERE" "$reason"
fi

has_row() { [[ " ${rows[*]} " == *" $1 "* ]]; }

# --- startup -------------------------------------------------------------------------------------
# Launch to exit of `true`, alternating the VMMs round by round so that a drift in the host's
# speed spreads over both; the host's free pages are scrubbed before each (vm_bench_lib.sh). The
# same runs' timelines (vm_bench_lib.sh) cut them into phases, the same way for every VMM: tandem's
# and QEMU's guests run tandem's guest init and mark its milestones on the status port, the
# classic VM's plain init marks the same on COM1, and its firmware runs before the kernel.
if timeline_reason=$(timeline_setup); then
  timeline=yes
else
  timeline=no
  for row in "${rows[@]}"; do metric_unavailable startup_phases "$row" "$timeline_reason"; done
fi
trap 'timeline_teardown; rm -rf "$work"' EXIT
timed_boot_begin() {
  scrub_free_pages
  [[ $timeline == no ]] || timeline_begin
  boot_start=$EPOCHREALTIME
}
# The startup sample, and the phases from the timeline; $3 is the port of the guest's milestones
# and $4 names the span from the guest's first instruction to its init.
timed_boot_end() {  # $1 row, $2 run, $3 port, $4 boot phase
  local now=$EPOCHREALTIME wall times
  [[ $timeline == no ]] || timeline_mark_end
  wall=$(ms_since "$boot_start" "$now")
  if [[ $timeline == no ]]; then
    sample startup "$1" "$(jq -c -n --argjson run "$2" --argjson wall "$wall" \
      '{run: $run, exit_ms: $wall}')"
    return
  fi
  times=$(timeline_end "$3") || die "$1 run $2: the trace holds no launch marker"
  jq -e '(["first_entry", "init", "workload", "exit", "end"] - keys) == []' <<<"$times" >/dev/null ||
    die "$1 run $2: the boot's timeline lacks a milestone: $times"
  sample startup "$1" "$(jq -c --argjson run "$2" --argjson wall "$wall" \
    '{run: $run, exit_ms: $wall, first_instruction_ms: .workload}' <<<"$times")"
  sample startup_phases "$1" "$(jq -c --argjson run "$2" --arg boot "$4" '
    def ms: . * 1000 | round / 1000;
    {run: $run, total_ms: .end, phases_ms: {"VMM setup": .first_entry,
      ($boot): (.init - .first_entry | ms), "init": (.workload - .init | ms),
      "workload": (.exit - .workload | ms), "shutdown": (.end - .exit | ms)}}' <<<"$times")"
}
tandem_startup() {  # $1 run
  tandem_command --initramfs "$BENCH_INITRD_TRUE" -- true
  timed_boot_begin
  # Under timeout, as QEMU's runs are: both rows pay for the same wrapper.
  timeout -k 10 300 "${command[@]}" </dev/null >/dev/null 2>"$work/stderr" ||
    die "tandem run failed: $(cat "$work/stderr")"
  timed_boot_end tandem-microvm "$1" 0xf4 "kernel boot"
}
qemu_startup() {  # $1 run
  local dir=$work/qemu-startup-$1
  mkdir -p "$dir"
  BENCH_INITRD=$BENCH_INITRD_TRUE qemu_command "$dir" "$BENCH_KERNEL"
  timed_boot_begin
  timeout 300 "${qemu[@]}" </dev/null >"$dir/stdout" 2>"$dir/stderr" ||
    die "QEMU run $1 failed: $(cat "$dir/stderr")"
  timed_boot_end qemu-microvm "$1" 0xf4 "kernel boot"
  qemu_check_console "$dir" "$1"
}
libvirt_startup() {  # $1 run
  timed_boot_begin
  libvirt_create "bench-true-$1" "$BENCH_PLAIN_TRUE"
  await_exit "$libvirt_pid" 300
  timed_boot_end libvirt-vm "$1" 0x3f8 "firmware and kernel boot"
  grep -q 'reboot: Restarting system' "$work/libvirt-bench-true-$1/console" ||
    die "libvirt run $1: the guest did not reach its reset"
}
log "startup: ${#rows[@]} VMMs, $BENCH_STARTUP_RUNS runs each (phases: $timeline)"
for ((run = 1; run <= BENCH_STARTUP_RUNS; run++)); do
  if ((run % 2)); then
    ! has_row tandem-microvm || tandem_startup "$run"
    ! has_row qemu-microvm || qemu_startup "$run"
  else
    ! has_row qemu-microvm || qemu_startup "$run"
    ! has_row tandem-microvm || tandem_startup "$run"
  fi
  ! has_row libvirt-vm || libvirt_startup "$run"
done
timeline_teardown

# --- idle microVMs -------------------------------------------------------------------------------
# An idle guest: its workload says idle-ready, then sleeps. tandem's says so on tandem's stdout,
# QEMU's on COM1 (tandem's guest init frames the workload's stdio there when it has no vsock).
idle_start() {  # $1 row, $2 instance; starts it in the background, sets idle_pid and idle_out
  local dir=$work/idle-$2
  mkdir -p "$dir"
  idle_out=$dir/stdout
  case $1 in
    tandem-microvm)
      tandem_command --initramfs "$BENCH_INITRD_IDLE" -- sh -c 'echo idle-ready; exec sleep 86400'
      "${command[@]}" </dev/null >"$idle_out" 2>"$dir/stderr" & ;;
    qemu-microvm)
      BENCH_INITRD=$BENCH_INITRD_IDLE qemu_command "$dir" "$BENCH_KERNEL"
      idle_out=$dir/com1
      "${qemu[@]}" </dev/null >"$dir/stdout" 2>"$dir/stderr" & ;;
    libvirt-vm)
      libvirt_create "idle-$2" "$BENCH_PLAIN_IDLE"
      idle_out=$libvirt_out
      idle_pids+=("$libvirt_pid")
      idle_pid=$libvirt_pid
      return ;;
  esac
  idle_pid=$!
  idle_pids+=("$idle_pid")
}
idle_pids=()
# On the way out, whatever happened: a VMM that ignores SIGTERM for 10 s gets SIGKILL.
end_idle_vms() {
  local pid deadline=$((SECONDS + 10))
  ((${#idle_pids[@]} == 0)) || kill -TERM "${idle_pids[@]}" 2>/dev/null || true
  for pid in "${idle_pids[@]}"; do
    until ended "$pid" || ((SECONDS >= deadline)); do sleep 0.05; done
    ended "$pid" || kill -KILL "$pid" 2>/dev/null || true
  done
  wait
}
trap 'end_idle_vms; timeline_teardown; rm -rf "$work"' EXIT
await_idle() {  # $1 output file, $2 runtime pid
  local deadline=$((SECONDS + 300))
  until grep -aq idle-ready "$1" 2>/dev/null; do
    kill -0 "$2" 2>/dev/null || die "an idle microVM ended before its workload started"
    ((SECONDS < deadline)) || die "an idle microVM did not start its workload within 300 s"
    sleep 0.1
  done
}
# The VMM's process among the runtime's: QEMU itself (started by libvirtd for the classic VM),
# or tandem's tandem-vmm.
vmm_pid() {  # $1 row, $2 runtime pid, then the runtime's pids
  if [[ $1 != tandem-microvm ]]; then
    echo "$2"
    return
  fi
  local pid
  for pid in "${@:3}"; do
    [[ $(cat 2>/dev/null "/proc/$pid/comm") == tandem-vmm ]] && { echo "$pid"; return; }
  done
  die "no tandem-vmm process among tandem's"
}
# Ends an idle microVM: tandem passes SIGTERM on to the guest's workload, QEMU quits (libvirt's
# QEMU is libvirtd's child, not this script's, so its end is waited for by its pid).
idle_stop() {  # $@ runtime pids
  local pid
  kill -TERM "$@" 2>/dev/null || true
  for pid in "$@"; do await_exit "$pid" 60; done
  wait "$@" 2>/dev/null || true
}

log "memory: ${#rows[@]} VMMs, $BENCH_MEMORY_RUNS idle microVMs each"
for row in "${rows[@]}"; do
  for ((run = 1; run <= BENCH_MEMORY_RUNS; run++)); do
    user_pids >"$work/before"
    idle_start "$row" "$run"
    await_idle "$idle_out" "$idle_pid"
    sleep 1  # the guest's init settles after starting the workload
    mapfile -t runtime < <(started_pids "$work/before" "$idle_pid")
    vmm=$(vmm_pid "$row" "$idle_pid" "${runtime[@]}")
    mapfile -t others < <(printf '%s\n' "${runtime[@]}" | grep -vx "$vmm")
    vmm_memory=$(smaps_memory "$vmm" "$memory_mib")
    others_memory=$(processes_memory "${others[@]}")
    sample memory "$row" "$(jq -c -n --argjson run "$run" --argjson v "$vmm_memory" \
      --argjson o "$others_memory" --argjson names "$(process_names "$vmm" "${others[@]}")" '
      {run: $run, runtime_rss_bytes: ($v.rss_bytes + $o.rss_bytes),
       runtime_pss_bytes: ($v.pss_bytes + $o.pss_bytes), vmm_rss_bytes: $v.rss_bytes,
       vmm_pss_bytes: $v.pss_bytes, guest_touched_bytes: $v.guest_ram_rss_bytes,
       runtime_processes: $names}')"
    idle_stop "$idle_pid"
  done
done

# One boot of `true` to its end, untimed and unchecked: what density starts beside the idle ones.
boot_true() {  # $1 row, $2 instance
  case $1 in
    tandem-microvm)
      tandem_command --initramfs "$BENCH_INITRD_TRUE" -- true
      timeout -k 10 300 "${command[@]}" </dev/null >/dev/null 2>"$work/boot-true.err" ;;
    qemu-microvm)
      mkdir -p "$work/true-$2"
      BENCH_INITRD=$BENCH_INITRD_TRUE qemu_command "$work/true-$2" "$BENCH_KERNEL"
      timeout 300 "${qemu[@]}" </dev/null >/dev/null 2>"$work/boot-true.err" ;;
    libvirt-vm)
      libvirt_create "true-$2" "$BENCH_PLAIN_TRUE"
      await_exit "$libvirt_pid" 300 ;;
  esac
}

# n = 1..K idle microVMs side by side: the PSS of all their processes, the host's count of memory
# in use, and how long one more boot of `true` takes beside them.
log "density: up to $BENCH_DENSITY_MAX idle microVMs per VMM"
for row in "${rows[@]}"; do
  baseline=$(host_memory_used)
  running=()
  : >"$work/density-pids"
  for ((n = 1; n <= BENCH_DENSITY_MAX; n++)); do
    user_pids >"$work/before"
    idle_start "$row" "density-$n"
    running+=("$idle_pid")
    await_idle "$idle_out" "$idle_pid"
    sleep 1
    pss=$(instances_pss "$work/before" "$idle_pid" "$work/density-pids")
    used=$(host_memory_used)
    start=$EPOCHREALTIME
    boot_true "$row" "density-$n" || die "$row: a boot beside $n idle microVMs failed:" \
      "$(tail -n 2 "$work/boot-true.err" 2>/dev/null | tr '\n' ' ')"
    density_sample "$row" "$n" "$pss" $((used - baseline)) "$(ms_since "$start")"
  done
  idle_stop "${running[@]}"
done

# --- CPU and I/O ---------------------------------------------------------------------------------
# The self-timed workloads of bench_lib.sh in each guest, the compute loop also on the machine the
# guests run on, as their baseline. I/O goes to a virtio-blk disk (/dev/vda) backed by a file
# here, for both VMMs the same file and QEMU's cache=writeback, as in virtio_io.sh.
disk=$work/disk.img
truncate -s $((BENCH_IO_MIB + 1))M "$disk"
# One self-timed workload, kind cpu or io, in row $1's VM; its output goes to file $3. QEMU's and
# the classic VM's guests find it in their initramfs (BENCH_INITRD_<KIND>, BENCH_PLAIN_<KIND>).
vm_workload() {  # $1 row, $2 kind, $3 output file, $4 script, then extra devices
  local row=$1 kind=$2 out=$3 script=$4
  local initrd=BENCH_INITRD_${2^^} plain=BENCH_PLAIN_${2^^}
  shift 4
  scrub_free_pages
  if [[ $row == libvirt-vm && $kind == io ]]; then
    libvirt_create "${out##*/}" "$BENCH_PLAIN_IO" "$BENCH_DISTRO_KERNEL" "$disk"
    await_exit "$libvirt_pid" 600
    cp "$libvirt_out" "$out"
  elif [[ $row == libvirt-vm ]]; then
    libvirt_create "${out##*/}" "${!plain}"
    await_exit "$libvirt_pid" 600
    cp "$libvirt_out" "$out"
  elif [[ $row == tandem-microvm ]]; then
    local extra=()
    (($# == 0)) || extra=(--disk "$disk")
    tandem_command --initramfs "$BENCH_INITRD_TRUE" "${extra[@]}" -- sh -c "$script"
    timeout -k 10 660 "${command[@]}" </dev/null >"$out" 2>&1
  else
    local dir=$work/qemu-${out##*/}
    mkdir -p "$dir"
    BENCH_INITRD=${!initrd} qemu_command "$dir" "$BENCH_KERNEL"
    if ! timeout 600 "${qemu[@]}" "$@" </dev/null >"$dir/stdout" 2>"$dir/stderr"; then
      cat "$dir/stderr" "$dir/console" >"$out"
      return 1
    fi
    cp "$dir/com1" "$out"
  fi
}
if [[ $BENCH_WHERE != host ]]; then
  row_available kvm-host "the emulated KVM host, no isolation" baseline "$BENCH_WHERE" \
    "$(uname -sr)" "busybox sh -c SCRIPT"
fi
log "CPU: a compute loop of $BENCH_CPU_ROUNDS thousand rounds, $BENCH_CPU_RUNS runs per row"
cpu_script=$(cpu_loop_script "$BENCH_CPU_ROUNDS")
for ((run = 1; run <= BENCH_CPU_RUNS; run++)); do
  if [[ $BENCH_WHERE != host ]]; then
    busybox sh -c "$cpu_script" >"$work/cpu.out" 2>&1 || die "the compute loop failed here"
    timed_sample cpu kvm-host "$work/cpu.out" "$run" cpu_sample_fields "$BENCH_CPU_ROUNDS"
  fi
  for row in "${rows[@]}"; do
    out=$work/cpu-$row-$run.out
    vm_workload "$row" cpu "$out" "$cpu_script" ||
      die "$row: the compute loop's microVM failed: $(tail -c 1500 "$out")"
    timed_sample cpu "$row" "$out" "$run" cpu_sample_fields "$BENCH_CPU_ROUNDS"
  done
done
log "I/O: $BENCH_IO_MIB MiB to /dev/vda and back with O_DIRECT, $BENCH_IO_RUNS runs per row"
io_script=$(io_script /dev/vda "$BENCH_IO_MIB")
# shellcheck disable=SC2054  # the commas are QEMU's option syntax
qemu_disk=(-drive "file=$disk,format=raw,if=none,id=disk0,cache=writeback,aio=threads"
  -device virtio-blk-device,drive=disk0)
for ((run = 1; run <= BENCH_IO_RUNS; run++)); do
  for row in "${rows[@]}"; do
    [[ $row != libvirt-vm || -n $BENCH_PLAIN_IO ]] || continue
    out=$work/io-$row-$run.out
    vm_workload "$row" io "$out" "$io_script" "${qemu_disk[@]}" ||
      die "$row: the I/O workload's microVM failed: $(tail -c 1500 "$out")"
    timed_sample io "$row" "$out" "$run" io_sample_fields "$BENCH_IO_MIB"
  done
done
if has_row libvirt-vm && [[ -z $BENCH_PLAIN_IO ]]; then
  metric_unavailable io libvirt-vm "$BENCH_DISTRO_REASON"
fi
if [[ $BENCH_WHERE != host ]]; then
  metric_unavailable io kvm-host "the emulated host has no disk of its own: its root is in RAM, \
which refuses O_DIRECT, and the guests' disk file is in that RAM too"
fi

#!/bin/bash
# `tandem bench`: tandem's two isolation levels beside the systems people would otherwise pick,
# on the same workloads in one run, and the report a class can read. Containers (tandem, runc,
# crun, bwrap) run on this machine; VMs (tandem's microVM, QEMU's microvm) run where there is KVM:
# here if /dev/kvm is usable, else inside the emulated KVM host (tools/kvm-host), and the report
# says which. Out come report.md, SVG plots and samples.json (benchmarks/bench_report.py).
set -euo pipefail

readonly prog=tandem-bench
die() {
  echo "$prog: $*" >&2
  exit 1
}
log() { echo "[bench] $*" >&2; }

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
readonly here repo
mode=quick
output="tandem-bench"
tandem=${TANDEM:-}
host_timeout=3600

usage() {
  cat >&2 <<EOF
usage: tandem bench [--quick | --full] [--output DIR] [--tandem PATH]
  --quick         few repeats, up to 8 containers and 3 microVMs side by side (the default; about
                  10 minutes on 2 cores with the emulated KVM host)
  --full          more repeats, up to 32 containers and 8 microVMs side by side
  --output DIR    where report.md, the plots and samples.json go (default ./$output)
  --tandem PATH   the tandem binary (default \$TANDEM, else the build's or the installed one)
EOF
  exit 2
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) mode=quick; shift ;;
    --full) mode=full; shift ;;
    --output) [[ -n ${2:-} ]] || usage; output=$2; shift 2 ;;
    --tandem) [[ -n ${2:-} ]] || usage; tandem=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "$prog: unknown option $1" >&2; usage ;;
  esac
done

# How much each mode measures, for containers (c_) and microVMs (v_): startup runs, idle
# workloads for memory, the most workloads side by side, compute-loop runs and their thousands
# of rounds, I/O runs and their MiB, and the emulated KVM host's CPUs. Guests run far slower
# under the emulated KVM host, so they get less work; ratios compare each row with its own
# baseline.
if [[ $mode == quick ]]; then
  c_startup=10 v_startup=3 c_memory=3 v_memory=2 c_density=8 v_density=3
  c_cpu=3 c_rounds=2000 v_cpu=2 v_rounds=200 c_io=3 c_mib=256 v_io=2 v_mib=32 host_cpus=1
else
  c_startup=30 v_startup=10 c_memory=5 v_memory=3 c_density=32 v_density=8
  c_cpu=10 c_rounds=5000 v_cpu=5 v_rounds=500 c_io=5 c_mib=512 v_io=5 v_mib=64 host_cpus=2
fi

[[ $EUID -eq 0 ]] || die "needs root: every row creates namespaces, cgroups or VMs"
"$repo/scripts/deps.sh" ||
  die "cannot install what the benchmarks need (scripts/deps.sh)"

# tandem and its companions, from an installed tree (all in one bin folder) or the build tree.
[[ -n $tandem ]] || tandem=$repo/build/tools/tandem
[[ -x $tandem ]] || die "no tandem binary at $tandem (build it, or pass --tandem)"
tandem=$(realpath "$tandem")
bin=$(dirname "$tandem")
if [[ -x $bin/tandem-vmm ]]; then
  vmm=$bin/tandem-vmm guest_init=$bin/tandem-guest-init mkinitramfs=$bin/tandem-mkinitramfs
  clock_stamp=$bin/tandem-clock-stamp
else
  vmm=$bin/vmm/tandem-vmm guest_init=$bin/guest-init/tandem-guest-init
  mkinitramfs=$bin/mkinitramfs/tandem-mkinitramfs clock_stamp=$bin/clock-stamp/tandem-clock-stamp
fi
for program in "$vmm" "$guest_init" "$mkinitramfs" "$clock_stamp"; do
  [[ -x $program ]] || die "no $(basename "$program") at $program, beside $tandem"
done

mkdir -p "$output"
output=$(realpath "$output")
work=$(mktemp -d /tmp/tandem-bench.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
records=$work/records.jsonl
# Private copies, so that a rebuild during the run cannot swap them; tandem finds tandem-vmm and
# its guest init beside itself under their installed names.
mkdir -p "$work/bin"
cp "$tandem" "$work/bin/tandem"
cp "$vmm" "$work/bin/tandem-vmm"
cp "$guest_init" "$work/bin/tandem-guest-init"
tandem=$work/bin/tandem

# --- the environment -----------------------------------------------------------------------------
cgroup_layout() {
  if [[ $(stat -f -c %T /sys/fs/cgroup) == cgroup2fs ]]; then
    echo "v2 (unified): $(cat /sys/fs/cgroup/cgroup.controllers)"
  elif [[ -d /sys/fs/cgroup/unified && $(stat -f -c %T /sys/fs/cgroup/unified) == cgroup2fs ]]; then
    echo "hybrid: v1 controllers ($(find /sys/fs/cgroup -mindepth 1 -maxdepth 1 -type d \
      ! -name unified ! -name systemd -printf '%f ' | sed 's/ $//')), cgroup2 at" \
      "/sys/fs/cgroup/unified ($(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null))"
  else
    echo "v1"
  fi
}
# shellcheck source=../tests/kvm_usable.sh
source "$repo/tests/kvm_usable.sh"
if kvm_usable; then
  kvm=real
  kvm_detail="/dev/kvm on hardware virtualization: the VM rows ran on this machine"
  vm_where=host
else
  kvm=emulated
  kvm_detail="no usable /dev/kvm here ($( [[ -e /dev/kvm ]] && echo "it stands on no vmx or svm" ||
    echo "none")): the VM rows ran inside the emulated KVM host (tools/kvm-host: QEMU TCG, -cpu max with SVM, Debian's kernel with kvm-amd), $host_cpus virtual CPU(s); their times are those of nested emulation"
  vm_where="emulated KVM host"
fi
# tandem admits microVMs while their vCPUs fit the host's CPUs times 4 (kCpuOvercommit,
# scheduler/admission.h), as a scheduler must: the idle microVMs of the density run stop one short
# of that, leaving room for the one started beside them.
vm_cpus=$host_cpus
[[ $kvm == emulated ]] || vm_cpus=$(nproc)
((v_density < vm_cpus * 4)) || v_density=$((vm_cpus * 4 - 1))
version() { command -v "$1" >/dev/null && "$1" --version 2>&1 | head -n 1 || echo "not installed"; }
jq -c -n --arg mode "$mode" --arg started "$(date -u +%FT%TZ)" \
  --arg command "tandem bench --$mode" --arg kernel "$(uname -r)" \
  --arg os "$(. /etc/os-release && echo "$PRETTY_NAME")" \
  --arg cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
  --argjson cpus "$(nproc)" \
  --argjson memory "$(awk '/^MemTotal:/ { print $2 * 1024 }' /proc/meminfo)" \
  --arg cgroups "$(cgroup_layout)" --arg kvm "$kvm" --arg kvm_detail "$kvm_detail" \
  --argjson runs "$(jq -n -c --argjson cs "$c_startup" --argjson vs "$v_startup" \
    --argjson cm "$c_memory" --argjson vm "$v_memory" --argjson cd "$c_density" \
    --argjson vd "$v_density" --argjson cc "$c_cpu" --argjson vc "$v_cpu" --argjson ci "$c_io" \
    --argjson vi "$v_io" '{startup: "\($cs) per container row, \($vs) per VM row",
      startup_phases: "\($cs) per container row, \($vs) per VM row",
      memory: "\($cm) idle workloads per container row, \($vm) per VM row",
      density: "n = 1 to \($cd) containers, 1 to \($vd) microVMs",
      cpu: "\($cc) per container row, \($vc) per VM row",
      io: "\($ci) per container row, \($vi) per VM row"}')" \
  --arg tandem "$("$tandem" --version)" --arg runc "$(version runc)" --arg crun "$(version crun)" \
  --arg bwrap "$(version bwrap)" --arg qemu "$(version qemu-system-x86_64)" '
  {type: "environment", mode: $mode, started: $started, command: $command, kernel: $kernel,
   os: $os, cpu: $cpu, cpus: $cpus, memory_bytes: $memory, cgroup_layout: $cgroups, kvm: $kvm,
   kvm_detail: $kvm_detail, runs: $runs,
   versions: {tandem: $tandem, runc: $runc, crun: $crun, bwrap: $bwrap, qemu: $qemu}}' \
  >"$records"

# --- containers, here ----------------------------------------------------------------------------
log "containers ($mode)"
BENCH_TANDEM=$tandem BENCH_WORK=$work/containers BENCH_CLOCK_STAMP=$clock_stamp \
  BENCH_STARTUP_RUNS=$c_startup \
  BENCH_MEMORY_RUNS=$c_memory BENCH_DENSITY_MAX=$c_density BENCH_CPU_RUNS=$c_cpu \
  BENCH_CPU_ROUNDS=$c_rounds BENCH_IO_RUNS=$c_io BENCH_IO_MIB=$c_mib \
  "$here/bench_containers.sh" >>"$records" || die "the container benchmarks failed"

# --- VMs, where KVM is ---------------------------------------------------------------------------
kernel=${TANDEM_GUEST_KERNEL:-}
if [[ -z $kernel ]]; then
  log "guest kernel: guest-kernel-config/build.sh (cached; the first build takes minutes)"
  kernel=$("$repo/guest-kernel-config/build.sh" | tail -n 1)/bzImage ||
    die "cannot build the guest kernel"
fi
[[ -f $kernel ]] || die "no guest kernel at $kernel"
cp "$kernel" "$work/bzImage"
# shellcheck source=vm_bench_lib.sh
source "$here/vm_bench_lib.sh"
# QEMU's guests find their workload in the initramfs: one for each.
shared_initramfs "$repo" "$guest_init" "$mkinitramfs" "$work/initrd-true.cpio" 256 true
shared_initramfs "$repo" "$guest_init" "$mkinitramfs" "$work/initrd-idle.cpio" 256 \
  sh -c 'echo idle-ready; exec sleep 86400'
shared_initramfs "$repo" "$guest_init" "$mkinitramfs" "$work/initrd-cpu.cpio" 256 \
  sh -c "$(cpu_loop_script "$v_rounds")"
shared_initramfs "$repo" "$guest_init" "$mkinitramfs" "$work/initrd-io.cpio" 256 \
  sh -c "$(io_script /dev/vda "$v_mib")"
# The classic VM's, with a plain init.
plain_initramfs "$repo" "$mkinitramfs" "$work/plain-true.cpio" true
plain_initramfs "$repo" "$mkinitramfs" "$work/plain-idle.cpio" 'echo idle-ready; exec sleep 86400'
plain_initramfs "$repo" "$mkinitramfs" "$work/plain-cpu.cpio" "$(cpu_loop_script "$v_rounds")"
# The classic VM's disk is a PCI device, which the guest kernel (no PCI) cannot drive: its I/O
# runs boot Debian's own kernel, the one the emulated host boots, loading its virtio modules.
distro_kernel='' plain_io='' distro_reason=''
if kernel_lines=$("$repo/tools/kvm-host/tandem-kvm-host" --print-kernel 2>"$work/distro.err"); then
  distro_kernel=$work/distro-bzImage plain_io=$work/plain-io.cpio
  cp "$(awk '$1 == "kernel" { print $2 }' <<<"$kernel_lines")" "$distro_kernel"
  mapfile -t modules < <(awk '$1 == "module" && $2 ~ /^virtio(_ring|_pci.*|_blk)?$/ { print $3 }' \
    <<<"$kernel_lines")
  plain_initramfs "$repo" "$mkinitramfs" "$plain_io" "$(io_script /dev/vda "$v_mib")" \
    "${modules[@]}"
else
  distro_reason="Debian's kernel, which the classic VM boots for its disk (a PCI device; the guest \
kernel has no PCI), is not at hand: $(tail -n 2 "$work/distro.err" | tr '\n' ' ')"
fi
cmdline=$(tandem_cmdline "$repo")
# shellcheck disable=SC2054  # QEMU's -M value has a comma
vm_env=(BENCH_TANDEM="$tandem" BENCH_KERNEL="$work/bzImage"
  BENCH_INITRD_TRUE="$work/initrd-true.cpio" BENCH_INITRD_IDLE="$work/initrd-idle.cpio"
  BENCH_CMDLINE="$cmdline" BENCH_MACHINE=microvm,acpi=off BENCH_WHERE="$vm_where"
  BENCH_INITRD_CPU="$work/initrd-cpu.cpio" BENCH_INITRD_IO="$work/initrd-io.cpio"
  BENCH_PLAIN_TRUE="$work/plain-true.cpio" BENCH_PLAIN_IDLE="$work/plain-idle.cpio"
  BENCH_PLAIN_CPU="$work/plain-cpu.cpio" BENCH_PLAIN_IO="$plain_io"
  BENCH_DISTRO_KERNEL="$distro_kernel" BENCH_DISTRO_REASON="$distro_reason"
  BENCH_SCRUB_MIB=512 BENCH_STARTUP_RUNS="$v_startup" BENCH_MEMORY_RUNS="$v_memory"
  BENCH_DENSITY_MAX="$v_density" BENCH_CPU_RUNS="$v_cpu" BENCH_CPU_ROUNDS="$v_rounds"
  BENCH_IO_RUNS="$v_io" BENCH_IO_MIB="$v_mib")
log "VMs ($mode, $vm_where)"
vm_status=0
if [[ $kvm == real ]]; then
  env "${vm_env[@]}" "$here/bench_vms.sh" >"$work/vms.jsonl" 2> >(tee "$work/vms.err" >&2) ||
    vm_status=$?
  wait "$!" || true  # tee, to its end
else
  kvm_host_env=()
  for assignment in "${vm_env[@]}"; do kvm_host_env+=(--env "$assignment"); done
  # libvirt inside: the daemon, virsh, the QEMU driver (a module libvirtd loads, with the
  # libraries it needs), its CPU map, SeaBIOS for the q35 machine, QEMU's firmware and its TCG
  # module (libvirtd probes QEMU with TCG too).
  libvirt_includes=()
  driver=/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so
  if [[ -x /usr/sbin/libvirtd && -f $driver ]]; then
    for path in /usr/sbin/libvirtd "$(command -v virsh)" "$driver" /usr/share/libvirt \
      /usr/share/seabios /usr/share/qemu /usr/lib/x86_64-linux-gnu/qemu \
      $(ldd "$driver" | awk '/=> \// { print $3 }'); do
      libvirt_includes+=(--include "$path")
    done
  fi
  for path in "$distro_kernel" "$plain_io"; do
    [[ -z $path ]] || libvirt_includes+=(--include "$path")
  done
  "$repo/tools/kvm-host/tandem-kvm-host" --with-qemu --cpus "$host_cpus" --timeout "$host_timeout" \
    --include "$here" --include "$work/bin" --include "$work/bzImage" \
    --include "$work/initrd-true.cpio" --include "$work/initrd-idle.cpio" \
    --include "$work/initrd-cpu.cpio" --include "$work/initrd-io.cpio" \
    --include "$work/plain-true.cpio" --include "$work/plain-idle.cpio" \
    --include "$work/plain-cpu.cpio" "${libvirt_includes[@]}" \
    --include "$(command -v bash)" --include "$(command -v jq)" "${kvm_host_env[@]}" \
    -- "$(command -v bash)" "$here/bench_vms.sh" </dev/null >"$work/vms.jsonl" \
    2> >(tee "$work/vms.err" >&2) || vm_status=$?
  wait "$!" || true  # tee, to its end
fi
if ((vm_status != 0)); then
  # What the VM half measured before it stopped stands (a record cut short by the stop goes); every
  # VM row, and the emulated host's baseline, gets the reason for each metric it has no figures for.
  reason="the VM benchmarks stopped (status $vm_status) before measuring this: \
$(grep -v '^tandem-mkinitramfs' "$work/vms.err" | tail -n 1)"
  ((vm_status != 124)) || reason="the VM benchmarks ran past the emulated host's timeout"
  rows_json='["tandem-microvm", "qemu-microvm", "libvirt-vm"]'
  [[ $kvm == real ]] || rows_json='["tandem-microvm", "qemu-microvm", "libvirt-vm", "kvm-host"]'
  jq -c -R 'fromjson? // empty' "$work/vms.jsonl" | jq -c -s --arg reason "$reason" \
    --arg where "$vm_where" --argjson rows "$rows_json" '
    . as $records
    | def level: {"libvirt-vm": "full-vm", "kvm-host": "baseline"}[.] // "microvm";
      def metrics: if . == "kvm-host" then ["cpu", "io"]
        else ["startup", "startup_phases", "memory", "density", "cpu", "io"] end;
    $records[],
    ($rows[] as $row
     | if any($records[]; .type == "row" and .row == $row) | not then
         {type: "row", row: $row, label: $row, level: ($row | level), where: $where,
          available: false, reason: $reason}
       else
         ($row | metrics)[] as $metric
         | select(any($records[]; .type != "row" and .row == $row and .metric == $metric) | not)
         | {type: "unavailable", metric: $metric, row: $row, reason: $reason}
       end)' >"$work/vms-kept.jsonl"
  mv "$work/vms-kept.jsonl" "$work/vms.jsonl"
fi
cat "$work/vms.jsonl" >>"$records"

# --- the report ----------------------------------------------------------------------------------
cp "$records" "$output/records.jsonl"
python3 "$here/bench_report.py" --records "$records" --output "$output" ||
  die "cannot write the report (the records are in $output/records.jsonl)"
log "report: $output/report.md (plots beside it; raw samples in $output/samples.json)"

#!/bin/bash
# Virtio data paths, tandem's VMM against QEMU's microvm machine: sequential virtio-blk writes and
# reads, and virtio-net transfers each way over one TAP device, with the same guest kernel,
# initramfs, guest init, 256 MiB and one vCPU. Throughput comes from the guest's own clock around
# each transfer; exits from the host's tracepoints, per MiB moved, beyond those of an idle boot.
# Both VMMs run side by side in ONE boot of the emulated KVM host (tools/kvm-host).
# Not part of the test suite: it measures, it does not check.
#
# Like vm_boot.sh, the file is both halves: on this machine it prepares the initramfs and starts
# the emulated host; inside, `virtio_io.sh --inside` does the runs and prints one JSON record per
# run, which the outer half aggregates.
set -euo pipefail

readonly prog=${0##*/}
readonly memory_mib=256
readonly phases=(idle blk-write blk-read net-rx net-tx)
# The TAP both VMMs attach to, and the addresses on each side of it.
readonly tap=tapbench host_ip=10.0.77.1 guest_ip=10.0.77.2 prefix=24
readonly http_port=8080 sink_port=9001

die() {
  echo "$prog: $*" >&2
  exit 1
}

# shellcheck source=vm_bench_lib.sh
source "$(dirname "$0")/vm_bench_lib.sh"

# --- inside the emulated KVM host ----------------------------------------------------------------
# From the environment: BENCH_RUNS, BENCH_TANDEM, BENCH_KERNEL, BENCH_INITRDS (a folder with
# base.cpio and one <phase>.cpio per phase for QEMU), BENCH_CMDLINE, BENCH_BLK_MIB, BENCH_NET_MIB,
# BENCH_IP (iproute2's ip) and BENCH_SCRUB_MIB.

log() { echo "[inside] $*" >&2; }


readonly disk=/dev/shm/bench-disk.img
readonly www=/dev/shm/bench-www

prepare_host() {
  truncate -s "$((BENCH_BLK_MIB + 16))M" "$disk"
  mkdir -p "$www"
  dd if=/dev/urandom of="$www/blob" bs=1M count="$BENCH_NET_MIB" status=none
  "$BENCH_IP" tuntap add dev "$tap" mode tap vnet_hdr
  "$BENCH_IP" addr add "$host_ip/$prefix" dev "$tap"
  "$BENCH_IP" link set "$tap" up
  busybox httpd -p "$host_ip:$http_port" -h "$www"
}

# The guest's measurement, from its output: "result PHASE MIB SECONDS".
guest_result() {  # $1: file holding the workload's stdout
  sed -n 's/.*result \([a-z-]*\) \([0-9]*\) \([0-9.]*\).*/{"phase": "\1", "mib": \2, "seconds": \3}/p' "$1" |
    tail -n 1
}

mib_of() {  # $1: phase
  case $1 in
    blk-*) echo "$BENCH_BLK_MIB" ;;
    net-*) echo "$BENCH_NET_MIB" ;;
    *) echo 0 ;;
  esac
}

# A sink for net-tx: takes one connection's bytes and counts them. busybox nc ends its session
# at the end of its own stdin, so that stays open (a FIFO held by this shell) until it is done.
start_sink() {
  rm -f "$scratch/sink-in"
  mkfifo "$scratch/sink-in"
  busybox nc -l -p "$sink_port" <"$scratch/sink-in" | wc -c >"$scratch/sink-count" &
  sink=$!
  exec {sink_input}>"$scratch/sink-in"
}
stop_sink() {
  wait "$sink"
  exec {sink_input}>&-
}

tandem_run() {  # $1: run number, $2: phase
  local out=$scratch/tandem.out err=$scratch/tandem.err status=0 mib sink='' sink_input=''
  mib=$(mib_of "$2")
  [[ $2 == net-tx ]] && start_sink
  scrub_free_pages
  trace_start
  "$BENCH_TANDEM" run --isolation vm --initramfs "$BENCH_INITRDS/base.cpio" \
    --kernel "$BENCH_KERNEL" --cpus 1 --memory "${memory_mib}M" --timeout 600 \
    --disk "$disk" --tap "$tap,guest=$guest_ip/$prefix" \
    -- sh /io.sh "$2" "$mib" "$host_ip" </dev/null >"$out" 2>"$err" || status=$?
  local trace
  trace=$(trace_stop)
  [[ -n $sink ]] && stop_sink
  if [[ $status -ne 0 ]]; then
    cat "$out" "$err" >&2
    die "tandem run $1 ($2) failed with status $status"
  fi
  record tandem "$1" "$2" "$out" "$trace"
}

qemu_run() {  # $1: run number, $2: phase
  local dir=$scratch/qemu-$1-$2 status=0 mib sink='' sink_input=''
  mkdir -p "$dir"
  mib=$(mib_of "$2")
  [[ $2 == net-tx ]] && start_sink
  # The devices of vm_boot.sh's QEMU (COM2 console, i8042 for the reset, virtio-rng), plus the
  # disk and the NIC under test, on the same backing file and TAP as tandem's. ACPI off: with it,
  # microvm describes its virtio-mmio devices in ACPI tables only, which this guest kernel (like
  # tandem's VMM) does without; off, QEMU names them on the kernel command line, as tandem does.
  # shellcheck disable=SC2054  # the commas are QEMU's option syntax
  local qemu=(qemu-system-x86_64 -M microvm,acpi=off -accel kvm -cpu host -m "${memory_mib}M" -smp 1
    -nodefaults -no-user-config -display none
    -serial "file:$dir/com1" -chardev "file,id=console,path=$dir/console"
    -device isa-serial,chardev=console,iobase=0x2f8,irq=3 -device i8042 -device virtio-rng-device
    -drive "file=$disk,format=raw,if=none,id=disk0,cache=writeback,aio=threads"
    -device virtio-blk-device,drive=disk0
    -netdev "tap,id=net0,ifname=$tap,script=no,downscript=no,vnet_hdr=on"
    -device virtio-net-device,netdev=net0
    -L /usr/share/qemu -kernel "$BENCH_KERNEL" -initrd "$BENCH_INITRDS/$2.cpio"
    -append "$BENCH_CMDLINE tandem.net=eth0,$guest_ip/$prefix" -no-reboot)
  scrub_free_pages
  trace_start
  timeout 600 "${qemu[@]}" </dev/null >"$dir/stdout" 2>"$dir/stderr" || status=$?
  local trace
  trace=$(trace_stop)
  [[ -n $sink ]] && stop_sink
  if [[ $status -ne 0 ]] || ! grep -q 'reboot: Restarting system' "$dir/console"; then
    cat "$dir/stderr" >&2
    tail -n 20 "$dir/console" >&2
    die "QEMU run $1 ($2) failed (status $status; console above)"
  fi
  record qemu "$1" "$2" "$dir/com1" "$trace"
}

record() {  # $1: vmm, $2: run, $3: phase, $4: the workload's output, $5: traced exits
  local result
  result=$(guest_result "$4")
  if [[ -z $result ]]; then
    cat "$4" >&2
    [[ $1 == qemu ]] && tail -n 40 "$(dirname "$4")/console" >&2
    die "$1 run $2 ($3): no result line from the guest"
  fi
  local sunk=null
  [[ $3 == net-tx ]] && sunk=$(tr -d ' ' <"$scratch/sink-count")
  local nic
  nic=$(sed -n 's/.*nic \([0-9]*\) \([0-9]*\) \([0-9]*\).*/{"rx_frames": \1, "tx_frames": \2, "interrupts": \3}/p' "$4" |
    tail -n 1)
  jq -c -n --arg vmm "$1" --argjson run "$2" --arg phase "$3" --argjson result "$result" \
    --argjson trace "$5" --argjson sunk "$sunk" --argjson nic "${nic:-null}" \
    '{vmm: $vmm, run: $run, phase: $phase, mib: $result.mib, seconds: $result.seconds,
      exits: $trace.kvm_exit.total, exits_to_userspace: $trace.kvm_userspace_exit.total,
      exits_by_reason: $trace.kvm_exit.by, bytes_received_by_host: $sunk, guest_nic: $nic}'
}

inside() {
  : "${BENCH_RUNS:?}" "${BENCH_TANDEM:?}" "${BENCH_KERNEL:?}" "${BENCH_INITRDS:?}"
  : "${BENCH_CMDLINE:?}" "${BENCH_BLK_MIB:?}" "${BENCH_NET_MIB:?}" "${BENCH_IP:?}"
  : "${BENCH_SCRUB_MIB:?}"
  command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64 inside (--with-qemu)"
  [[ -w $tracing/kvm_exit/trigger ]] || die "no KVM tracepoints in the emulated host"
  scratch=$(mktemp -d /tmp/virtio-io.XXXXXX)
  prepare_host
  local i phase
  for ((i = 1; i <= BENCH_RUNS; i++)); do
    for phase in "${phases[@]}"; do
      # Which VMM goes first alternates, so neither always inherits the other's page cache.
      if ((i % 2)); then
        log "run $i/$BENCH_RUNS, $phase: tandem, then QEMU"
        tandem_run "$i" "$phase"
        qemu_run "$i" "$phase"
      else
        log "run $i/$BENCH_RUNS, $phase: QEMU, then tandem"
        qemu_run "$i" "$phase"
        tandem_run "$i" "$phase"
      fi
    done
  done
}

if [[ ${1:-} == --inside ]]; then
  inside
  exit 0
fi

# --- on this machine -----------------------------------------------------------------------------

repo=$(cd "$(dirname "$0")/.." && pwd)
readonly repo
runs=3
blk_mib=64
net_mib=16
scrub_mib=512
host_timeout=7200
output=/tmp/virtio_io.json
tandem=${TANDEM:-$repo/build/tools/tandem}
guest_init=${TANDEM_GUEST_INIT:-$repo/build/tools/guest-init/tandem-guest-init}
vmm=${TANDEM_VMM:-$repo/build/tools/vmm/tandem-vmm}
mkinitramfs=$repo/build/tools/mkinitramfs/tandem-mkinitramfs
kernel=${TANDEM_GUEST_KERNEL:-/var/cache/tandem/guest-kernel/current/bzImage}

usage() {
  cat >&2 <<EOF
usage: $prog [--runs N] [--blk-mib N] [--net-mib N] [--output FILE] [--kernel BZIMAGE]
             [--scrub MIB] [--timeout SECS]
  --runs N         rounds (default $runs); each boots every phase (${phases[*]}) under both
                   VMMs, the first VMM alternating between rounds
  --blk-mib N      MiB written, then read, through virtio-blk with O_DIRECT (default $blk_mib)
  --net-mib N      MiB moved each way through virtio-net (default $net_mib)
  --output FILE    where the JSON goes (default $output)
  --kernel BZIMAGE the guest kernel (default \$TANDEM_GUEST_KERNEL, else $kernel)
  --scrub MIB      before each run, rewrite this much of the host's free memory (vm_boot.sh
                   explains why; default $scrub_mib, 0 for none)
  --timeout SECS   stop the emulated host after SECS (default $host_timeout)
EOF
  exit 2
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; runs=$2; shift 2 ;;
    --blk-mib) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; blk_mib=$2; shift 2 ;;
    --net-mib) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; net_mib=$2; shift 2 ;;
    --output) [[ -n ${2:-} ]] || usage; output=$2; shift 2 ;;
    --kernel) [[ -n ${2:-} ]] || usage; kernel=$2; shift 2 ;;
    --scrub) [[ ${2:-} =~ ^(0|[1-9][0-9]*)$ ]] || usage; scrub_mib=$2; shift 2 ;;
    --timeout) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; host_timeout=$2; shift 2 ;;
    *) usage ;;
  esac
done

[[ $EUID -eq 0 ]] || die "needs root (the emulated host's caches live in /var/cache/tandem)"
"$repo/scripts/deps.sh" jq || die "cannot install what the benchmark needs"
ip_tool=$(command -v ip) || die "no ip (iproute2) on this machine"
for tool in jq qemu-system-x86_64 "$repo/tools/kvm-host/tandem-kvm-host" \
  "$repo/tools/mkrootfs/tandem-mkrootfs-busybox"; do
  command -v "$tool" >/dev/null || die "missing $tool"
done
for binary in "$tandem" "$guest_init" "$vmm" "$mkinitramfs"; do
  [[ -x $binary ]] || die "no $binary (run ninja -C build)"
done
[[ -f $kernel ]] || die "no guest kernel at $kernel (guest-kernel-config/build.sh builds one)"

# The kernel command line is tandem's own, for both VMMs.
cmdline=$(tandem_cmdline "$repo")

work=$(mktemp -d /tmp/tandem-virtio-io.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
mkdir -p "$work/bin" "$work/initrds"
cp "$tandem" "$work/bin/tandem"
cp "$guest_init" "$work/bin/tandem-guest-init"
cp "$vmm" "$work/bin/tandem-vmm"
cp "$kernel" "$work/bzImage"

# The guest's side of each phase. It times the transfer with its own clock (/proc/uptime, 10 ms
# steps; every transfer takes seconds) and prints one result line.
rootfs=$work/rootfs
"$repo/tools/mkrootfs/tandem-mkrootfs-busybox" "$rootfs" >/dev/null
cat >"$rootfs/io.sh" <<'EOF'
#!/bin/sh
phase=$1 mib=$2 host=$3
now() { read -r up _ </proc/uptime; echo "$up"; }
start=$(now)
case $phase in
  idle) ;;
  blk-write) dd if=/dev/zero of=/dev/vda bs=1M count="$mib" oflag=direct conv=fsync 2>/dev/null ;;
  blk-read) dd if=/dev/vda of=/dev/null bs=1M count="$mib" iflag=direct 2>/dev/null ;;
  net-rx) wget -q -O /dev/null "http://$host:8080/blob" ;;
  net-tx) dd if=/dev/zero bs=64k count=$((mib * 16)) 2>/dev/null | nc "$host" 9001 ;;
esac || { echo "phase $phase failed"; exit 1; }
end=$(now)
echo "result $phase $mib $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')"
# What the guest's NIC did since boot: frames each way and the interrupts its driver took.
nic=$(basename "$(readlink /sys/class/net/eth0/device)")
echo "nic $(cat /sys/class/net/eth0/statistics/rx_packets /sys/class/net/eth0/statistics/tx_packets |
  tr '\n' ' ')$(awk -v d="$nic" '$NF == d { n = 0; for (i = 2; i <= NF - 3; i++) n += $i; print n }' \
  /proc/interrupts)"
EOF
chmod 0755 "$rootfs/io.sh"
install -d -m 0700 "$rootfs/.tandem"
install -m 0700 "$work/bin/tandem-guest-init" "$rootfs/.tandem/init"
"$mkinitramfs" "$rootfs" "$work/initrds/base.cpio" >&2

# QEMU's guest learns its phase from the workload JSON in its initramfs, one archive per phase
# appended to the base: what toJson (common/workload.cpp) writes for tandem's own run of it.
for phase in "${phases[@]}"; do
  mib=$blk_mib
  [[ $phase == net-* ]] && mib=$net_mib
  [[ $phase == idle ]] && mib=0
  layer=$work/layer-$phase
  install -d -m 0700 "$layer/.tandem"
  jq -c -S -n --argjson memory $((memory_mib << 20)) --arg phase "$phase" --arg mib "$mib" \
    --arg host "$host_ip" '{
    capAdd: [], capDrop: [], command: ["sh", "/io.sh", $phase, $mib, $host], env: [],
    gidMappings: [], hostname: "", id: "", init: false, isolation: "vm",
    limits: {cpuMilli: 1000, memory: $memory}, name: "", network: "none",
    readOnlyRootfs: false, removeOnExit: false, rlimits: [], rootfs: "", rootfsLayers: [],
    seccomp: true, tty: false, uidMappings: [], user: {additionalGids: [], gid: 0, uid: 0},
    workdir: "/"}' >"$layer/.tandem/workload.json"
  chmod 0600 "$layer/.tandem/workload.json"
  "$mkinitramfs" "$layer" "$work/layer-$phase.cpio" >&2
  cat "$work/initrds/base.cpio" "$work/layer-$phase.cpio" >"$work/initrds/$phase.cpio"
done

echo "blk: $blk_mib MiB each way; net: $net_mib MiB each way; $runs rounds" >&2
host_status=0
"$repo/tools/kvm-host/tandem-kvm-host" --with-qemu --cpus 1 --timeout "$host_timeout" \
  --include "$repo/benchmarks" --include "$work/bin" --include "$work/bzImage" \
  --include "$work/initrds" --include "$(command -v bash)" --include "$(command -v jq)" \
  --include "$ip_tool" \
  --env "BENCH_RUNS=$runs" --env "BENCH_TANDEM=$work/bin/tandem" \
  --env "BENCH_KERNEL=$work/bzImage" --env "BENCH_INITRDS=$work/initrds" \
  --env "BENCH_CMDLINE=$cmdline" --env "BENCH_BLK_MIB=$blk_mib" --env "BENCH_NET_MIB=$net_mib" \
  --env "BENCH_IP=$ip_tool" --env "BENCH_SCRUB_MIB=$scrub_mib" \
  -- "$(command -v bash)" "$repo/benchmarks/$prog" --inside </dev/null >"$work/records.jsonl" ||
  host_status=$?
cp "$work/records.jsonl" "${output%.json}.records.jsonl"
[[ $host_status -eq 0 ]] ||
  die "the runs inside the emulated KVM host failed (status $host_status; 124 is --timeout)"

# Per VMM and phase: throughput (MiB/s) and exits per MiB beyond the same round's idle boot;
# medians of the lower middle, so every figure is one that was measured.
jq -s --argjson runs "$runs" --arg cmdline "$cmdline" '
  def median: sort | .[(length - 1) / 2 | floor];
  def stat: {median: median, min: min, max: max, samples: .};
  . as $all
  | def idle($vmm; $run): $all | map(select(.vmm == $vmm and .run == $run and .phase == "idle"))
      | first;
    def per_phase($vmm; $phase):
      ($all | map(select(.vmm == $vmm and .phase == $phase))) as $rs
      | {
          mib_per_s: ($rs | map(.mib / (if .seconds > 0 then .seconds else 0.01 end)) | stat),
          exits_per_mib: ($rs | map((.exits - idle($vmm; .run).exits) / .mib) | stat),
          exits_to_userspace_per_mib: ($rs
            | map((.exits_to_userspace - idle($vmm; .run).exits_to_userspace) / .mib) | stat)
        };
    {
      environment: {emulated_kvm_host: true, host_cpus: 1, guest_memory_mib: 256,
        guest_cpus: 1, rounds: $runs, kernel_cmdline: $cmdline},
      phases: (["blk-write", "blk-read", "net-rx", "net-tx"] | map(. as $p | {
        key: $p,
        value: ({tandem: per_phase("tandem"; $p), qemu: per_phase("qemu"; $p)}
          | . + {ratio_tandem_over_qemu: {
              mib_per_s: (.tandem.mib_per_s.median / .qemu.mib_per_s.median),
              exits_per_mib: (if .qemu.exits_per_mib.median > 0
                then .tandem.exits_per_mib.median / .qemu.exits_per_mib.median else null end)}})
      }) | from_entries),
      runs: $all
    }' "$work/records.jsonl" >"$output"

jq -r '
  "| phase | tandem MiB/s | QEMU MiB/s | ratio | tandem exits/MiB | QEMU exits/MiB | ratio | tandem to-userspace/MiB | QEMU to-userspace/MiB |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  (.phases | to_entries[] | .key as $p | .value as $v |
    "| \($p) | \($v.tandem.mib_per_s.median | . * 100 | round / 100) | \($v.qemu.mib_per_s.median | . * 100 | round / 100) | \($v.ratio_tandem_over_qemu.mib_per_s | . * 100 | round / 100)× | \($v.tandem.exits_per_mib.median | round) | \($v.qemu.exits_per_mib.median | round) | \(($v.ratio_tandem_over_qemu.exits_per_mib // 0) | . * 100 | round / 100)× | \($v.tandem.exits_to_userspace_per_mib.median | round) | \($v.qemu.exits_to_userspace_per_mib.median | round) |")
' "$output"
echo "raw records and medians: $output" >&2

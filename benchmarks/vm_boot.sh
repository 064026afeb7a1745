#!/bin/bash
# Boot cost of one microVM, tandem's VMM against QEMU's microvm machine: the same guest kernel,
# initramfs, kernel command line, 256 MiB and one vCPU, booting to the workload `true` and ending
# at the guest's reset. Both run side by side in ONE boot of the emulated KVM host
# (tools/kvm-host), since wall times there swing by several times between host boots.
# Not part of the test suite: it measures, it does not check.
#
# The same file is both halves: run as `vm_boot.sh [OPTIONS]` on this machine it prepares the
# initramfs and starts the emulated host; inside, `vm_boot.sh --inside` does the runs and prints
# one JSON record per run on stdout, which the outer half aggregates.
set -euo pipefail

readonly prog=${0##*/}
readonly memory_mib=256

die() {
  echo "$prog: $*" >&2
  exit 1
}

# shellcheck source=vm_bench_lib.sh
source "$(dirname "$0")/vm_bench_lib.sh"

# --- inside the emulated KVM host ----------------------------------------------------------------
# Everything comes in through the environment (kvm-host passes only what --env names):
# BENCH_RUNS, BENCH_TANDEM, BENCH_KERNEL, BENCH_INITRD, BENCH_CMDLINE, BENCH_MACHINE and
# BENCH_SCRUB_MIB.

log() { echo "[inside] $*" >&2; }

tandem_run() {  # $1: run number, $2: timed|traced
  local out=$scratch/tandem.out err=$scratch/tandem.err status=0 start wall trace=null
  [[ $2 == traced ]] && trace_start
  scrub_free_pages
  start=$EPOCHREALTIME
  "$BENCH_TANDEM" run --isolation vm --initramfs "$BENCH_INITRD" --kernel "$BENCH_KERNEL" \
    --cpus 1 --memory "${memory_mib}M" --timeout 300 --stats -- true \
    </dev/null >"$out" 2>"$err" || status=$?
  wall=$(ms_since "$start")
  [[ $2 == traced ]] && trace=$(trace_stop)
  if [[ $status -ne 0 ]]; then
    cat "$err" >&2
    die "tandem run $1 failed with status $status"
  fi
  # --stats prints its JSON object last on stderr, after any log lines.
  local stats
  stats=$(sed -n '/^{$/,$p' "$err")
  jq -c -n --argjson run "$1" --arg kind "$2" --argjson wall "$wall" --argjson stats "$stats" \
    --argjson trace "$trace" \
    '{vmm: "tandem", kind: $kind, run: $run, wall_ms: $wall, stats: $stats,
      traced: $trace}'
}

qemu_timed() {  # $1: run number, $2: kernel (default: tandem's), $3: kind, $4: command line
  local kind=${3:-timed}
  local dir=$scratch/qemu-$kind-$1 qemu status=0 start wall
  mkdir -p "$dir"
  qemu_command "$dir" "${2:-$BENCH_KERNEL}" "${4:-}"
  scrub_free_pages
  start=$EPOCHREALTIME
  timeout 300 "${qemu[@]}" </dev/null >"$dir/stdout" 2>"$dir/stderr" || status=$?
  wall=$(ms_since "$start")
  if [[ $status -ne 0 ]]; then
    cat "$dir/stderr" >&2
    die "QEMU timed run $1 failed with status $status"
  fi
  qemu_check_console "$dir" "$1"
  jq -c -n --argjson run "$1" --argjson wall "$wall" --arg kind "$kind" \
    '{vmm: "qemu", kind: $kind, run: $run, wall_ms: $wall}'
}

# A counted run keeps the VM alive after the guest's reset (-no-shutdown: stop, don't exit), so
# that its debugfs folder and its mappings can be read; an HMP monitor over two FIFOs tells when
# it stopped and then ends it.
qemu_counted() {  # $1: run number, $2: kernel (default: tandem's), $3: kind, $4: command line
  local kind=${3:-counted}
  local dir=$scratch/qemu-$kind-$1 qemu pid reader start wall='' i
  mkdir -p "$dir"
  mkfifo "$dir/mon.in" "$dir/mon.out"
  qemu_command "$dir" "${2:-$BENCH_KERNEL}" "${4:-}"
  trace_start
  start=$EPOCHREALTIME
  "${qemu[@]}" -no-shutdown -chardev "pipe,id=mon,path=$dir/mon" -mon chardev=mon,mode=readline \
    </dev/null >"$dir/stdout" 2>"$dir/stderr" &
  pid=$!
  # QEMU opens both FIFOs read-write, so these opens do not wait for it.
  cat "$dir/mon.out" >"$dir/mon.log" &
  reader=$!
  exec {mon}>"$dir/mon.in"
  for ((i = 0; i < 3000; i++)); do  # 0.1 s steps: 5 minutes
    kill -0 "$pid" 2>/dev/null || { cat "$dir/stderr" >&2; die "QEMU counted run $1 exited early"; }
    echo 'info status' >&"$mon"
    sleep 0.1
    if grep -q 'VM status: paused (shutdown)' "$dir/mon.log"; then
      wall=$(ms_since "$start")
      break
    fi
  done
  [[ -n $wall ]] || die "QEMU counted run $1: the guest did not reset within 5 minutes"
  local kvm memory trace
  kvm=$(debugfs_counters "$pid")
  memory=$(smaps_memory "$pid" "$memory_mib")
  trace=$(trace_stop)
  echo quit >&"$mon"
  wait "$pid" || true
  exec {mon}>&-
  kill "$reader" 2>/dev/null || true
  wait "$reader" 2>/dev/null || true
  [[ $kvm != null ]] || die "QEMU counted run $1: no /sys/kernel/debug/kvm/$pid-* folder"
  qemu_check_console "$dir" "$1"
  jq -c -n --argjson run "$1" --argjson wall "$wall" --argjson kvm "$kvm" \
    --argjson memory "$memory" --argjson trace "$trace" --arg kind "$kind" \
    '{vmm: "qemu", kind: $kind, run: $run, wall_ms_until_stopped_seen: $wall,
      kvm_debugfs: $kvm, vmm_memory: $memory, traced: $trace}'
}

inside() {
  : "${BENCH_RUNS:?}" "${BENCH_TANDEM:?}" "${BENCH_KERNEL:?}" "${BENCH_INITRD:?}"
  : "${BENCH_CMDLINE:?}" "${BENCH_MACHINE:?}" "${BENCH_SCRUB_MIB:?}"
  [[ -e /dev/kvm ]] || die "no /dev/kvm inside the emulated host"
  [[ -d /sys/kernel/debug/kvm ]] || die "no /sys/kernel/debug/kvm: debugfs is not mounted"
  command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64 inside (--with-qemu)"
  [[ -w $tracing/kvm_userspace_exit/trigger ]] ||
    log "no kvm tracepoints: QEMU's exits to userspace and all exits by reason will be missing"
  scratch=$(mktemp -d /tmp/vm-boot-inside.XXXXXX)
  local i
  # One traced tandem run first: it checks that the tracepoint count agrees with tandem's own
  # exits_to_vmm.total, which is what makes the traced figure for QEMU comparable. It also
  # warms the page cache for both, since they read the same kernel and initramfs, and it is
  # tandem's first boot of this bzImage in this host, so it decompresses the kernel and fills
  # the vmlinux cache (vmm/vmlinux_cache.h); its wall time is reported apart, as the cold boot.
  log "tandem traced run"
  tandem_run 0 traced
  for ((i = 1; i <= BENCH_RUNS; i++)); do
    # Alternate which VMM goes first, so a drift in the host's speed spreads over both.
    if ((i % 2)); then
      log "run $i/$BENCH_RUNS: tandem"; tandem_run "$i" timed
      log "run $i/$BENCH_RUNS: QEMU (timed)"; qemu_timed "$i"
      log "run $i/$BENCH_RUNS: QEMU (counted)"; qemu_counted "$i"
    else
      log "run $i/$BENCH_RUNS: QEMU (timed)"; qemu_timed "$i"
      log "run $i/$BENCH_RUNS: QEMU (counted)"; qemu_counted "$i"
      log "run $i/$BENCH_RUNS: tandem"; tandem_run "$i" timed
    fi
  done
  # The stack a user would otherwise take: QEMU's microvm with the distribution's kernel, the
  # same initramfs and command line. Exit counts are steady, so one run of each kind per boot.
  if [[ -n ${BENCH_STOCK_KERNEL:-} ]]; then
    log "QEMU with the stock kernel (timed)"; qemu_timed 0 "$BENCH_STOCK_KERNEL" timed_stock
    log "QEMU with the stock kernel (counted)"
    qemu_counted 0 "$BENCH_STOCK_KERNEL" counted_stock
  fi
  # The same kernel and initramfs under QEMU with a plain command line, without tandem's tuning
  # (the issue counts the VMM, the kernel config and the command line together as tandem's).
  if [[ -n ${BENCH_PLAIN_CMDLINE:-} ]]; then
    log "QEMU with the plain command line (timed)"
    qemu_timed 0 "" timed_plain "$BENCH_PLAIN_CMDLINE"
    log "QEMU with the plain command line (counted)"
    qemu_counted 0 "" counted_plain "$BENCH_PLAIN_CMDLINE"
  fi
}

if [[ ${1:-} == --inside ]]; then
  inside
  exit 0
fi

# --- on this machine -----------------------------------------------------------------------------

repo=$(cd "$(dirname "$0")/.." && pwd)
readonly repo
self=$repo/benchmarks/$prog
runs=5
output=/tmp/vm_boot.json
tandem=${TANDEM:-$repo/build/tools/tandem}
guest_init=${TANDEM_GUEST_INIT:-$repo/build/tools/guest-init/tandem-guest-init}
vmm=${TANDEM_VMM:-$repo/build/tools/vmm/tandem-vmm}
mkinitramfs=$repo/build/tools/mkinitramfs/tandem-mkinitramfs
kernel=${TANDEM_GUEST_KERNEL:-/var/cache/tandem/guest-kernel/current/bzImage}
# ACPI off: with it on (microvm's default), QEMU describes its virtio-mmio devices in ACPI tables
# only, which the guest kernel does without, so QEMU's guest had no virtio-rng at all; off, QEMU
# names them on the command line, as tandem does.
machine=microvm,acpi=off
scrub_mib=512
host_timeout=7200
boots=1
# One virtual CPU, as the test suites' hosts have: a two-CPU emulated host has frozen under load
# (tools/kvm-host/README.md), and one boot of this benchmark stalled in one.
host_cpus=1
# Debian's kernel, as tools/kvm-host caches it for the emulated host itself.
stock_kernel=$(ls -1t /var/cache/tandem/kvm-host/linux-image-*/boot/vmlinuz-* 2>/dev/null |
  head -n 1) || true
# The command line QEMU's boots were first measured with here (shared/platform-facts.md), with
# the console on COM2 and tandem's init as in every run: no TSC, timer, UART or entropy tuning.
plain_cmdline="console=ttyS1 quiet panic=-1 reboot=k rdinit=/.tandem/init"

usage() {
  cat >&2 <<EOF
usage: $prog [--runs N] [--boots N] [--output FILE] [--tandem PATH] [--kernel BZIMAGE]
             [--machine OPTS] [--scrub MIB] [--timeout SECS]
  --runs N          alternating runs of each VMM (default $runs); every QEMU run is done twice,
                    once timed and once counted
  --boots N         repeat everything in N boots of the emulated host (default $boots): wall
                    times swing between boots more than within one, so the wall ratio is
                    taken in each boot, side by side, and the median of those is reported
  --output FILE     where the JSON goes (default $output)
  --tandem PATH     the tandem binary (default \$TANDEM, else $repo/build/tools/tandem); the
                    guest init is \$TANDEM_GUEST_INIT and tandem-vmm \$TANDEM_VMM, else the
                    build's
  --kernel BZIMAGE  the guest kernel (default \$TANDEM_GUEST_KERNEL, else $kernel)
  --stock-kernel K  also boot QEMU with this distribution kernel, once timed and once counted
                    per host boot: the stack tandem replaces (default ${stock_kernel:-none
                    found}, the emulated host's own; "none" skips it)
  --plain-cmdline C also boot QEMU with the same kernel and this command line, once timed and
                    once counted per host boot: the guest without tandem's command-line tuning
                    (default "$plain_cmdline"; "none" skips it)
  --machine OPTS    QEMU's -M value (default $machine)
  --scrub MIB       before each timed run, rewrite this much of the host's free memory, so
                    that neither VMM pays the emulator's cost for pages that held the previous
                    guest's code (default $scrub_mib; 0 measures without)
  --timeout SECS    stop each boot of the emulated host after SECS (default $host_timeout)
  --host-cpus N     virtual CPUs of the emulated host (default $host_cpus)
EOF
  exit 2
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; runs=$2; shift 2 ;;
    --boots) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; boots=$2; shift 2 ;;
    --output) [[ -n ${2:-} ]] || usage; output=$2; shift 2 ;;
    --tandem) [[ -n ${2:-} ]] || usage; tandem=$2; shift 2 ;;
    --kernel) [[ -n ${2:-} ]] || usage; kernel=$2; shift 2 ;;
    --stock-kernel) [[ -n ${2:-} ]] || usage; stock_kernel=$2; shift 2 ;;
    --plain-cmdline) [[ -n ${2:-} ]] || usage; plain_cmdline=$2; shift 2 ;;
    --machine) [[ ${2:-} == microvm* ]] || usage; machine=$2; shift 2 ;;
    --scrub) [[ ${2:-} =~ ^(0|[1-9][0-9]*)$ ]] || usage; scrub_mib=$2; shift 2 ;;
    --timeout) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; host_timeout=$2; shift 2 ;;
    --host-cpus) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; host_cpus=$2; shift 2 ;;
    *) usage ;;
  esac
done

[[ $EUID -eq 0 ]] || die "needs root (the emulated host's caches live in /var/cache/tandem)"
# jq for the results; the rest (QEMU, the kernel source) is the test suite's own list.
"$repo/scripts/deps.sh" jq || die "cannot install what the benchmark needs"
for tool in jq qemu-system-x86_64 "$repo/tools/kvm-host/tandem-kvm-host" \
  "$repo/tools/mkrootfs/tandem-mkrootfs-busybox"; do
  command -v "$tool" >/dev/null || die "missing $tool"
done
[[ -x $tandem ]] || die "no tandem binary at $tandem (run ninja -C build, or pass --tandem)"
[[ -x $guest_init ]] || die "no guest init at $guest_init (run ninja -C build)"
[[ -x $vmm ]] || die "no tandem-vmm at $vmm (run ninja -C build)"
[[ -x $mkinitramfs ]] || die "no tandem-mkinitramfs at $mkinitramfs (run ninja -C build)"
[[ -f $kernel ]] || die "no guest kernel at $kernel (guest-kernel-config/build.sh builds one)"
[[ $stock_kernel == none ]] && stock_kernel=''
[[ $plain_cmdline == none ]] && plain_cmdline=''
[[ -z $stock_kernel || -f $stock_kernel ]] || die "no stock kernel at $stock_kernel"

# The kernel command line is tandem's own, for both VMMs.
cmdline=$(tandem_cmdline "$repo")

work=$(mktemp -d /tmp/tandem-vm-boot.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT

# Private copies, so a rebuild elsewhere during the run cannot swap binaries under it. tandem
# finds the guest init and tandem-vmm next to itself under their installed names.
mkdir -p "$work/bin"
cp "$tandem" "$work/bin/tandem"
cp "$guest_init" "$work/bin/tandem-guest-init"
cp "$vmm" "$work/bin/tandem-vmm"
cp "$kernel" "$work/bzImage"
stock_args=()
if [[ -n $stock_kernel ]]; then
  cp "$stock_kernel" "$work/stock-vmlinuz"
  stock_args=(--include "$work/stock-vmlinuz" --env "BENCH_STOCK_KERNEL=$work/stock-vmlinuz")
fi
[[ -z $plain_cmdline ]] || stock_args+=(--env "BENCH_PLAIN_CMDLINE=$plain_cmdline")

# One initramfs for both VMMs, QEMU's guest running tandem's init on the same workload.
shared_initramfs "$repo" "$work/bin/tandem-guest-init" "$mkinitramfs" "$work/initrd.cpio" \
  "$memory_mib" true

echo "kernel command line: $cmdline" >&2
echo "QEMU machine: -M $machine; $runs runs each; this takes a while (every boot is nested)" >&2
records=$work/records.jsonl
: >"$records"
for ((boot = 1; boot <= boots; boot++)); do
  ((boots == 1)) || echo "emulated host boot $boot of $boots" >&2
  host_status=0
  "$repo/tools/kvm-host/tandem-kvm-host" --with-qemu --cpus "$host_cpus" --timeout "$host_timeout" \
    --include "$repo/benchmarks" --include "$work/bin" --include "$work/bzImage" \
    --include "$work/initrd.cpio" --include "$(command -v bash)" --include "$(command -v jq)" \
    --env "BENCH_RUNS=$runs" --env "BENCH_TANDEM=$work/bin/tandem" \
    --env "BENCH_KERNEL=$work/bzImage" --env "BENCH_INITRD=$work/initrd.cpio" \
    --env "BENCH_CMDLINE=$cmdline" --env "BENCH_MACHINE=$machine" \
    --env "BENCH_SCRUB_MIB=$scrub_mib" "${stock_args[@]}" \
    -- "$(command -v bash)" "$self" --inside </dev/null >"$work/boot.jsonl" || host_status=$?
  if [[ $host_status -ne 0 ]]; then
    die "the runs inside the emulated KVM host failed (status $host_status; 124 is --timeout)"
  fi
  jq -c --argjson boot "$boot" '. + {boot: $boot}' "$work/boot.jsonl" >>"$records"
done

# Medians of the lower middle for even counts, so every figure is one that was measured.
jq -s --argjson runs "$runs" --argjson host_cpus "$host_cpus" --argjson scrub "$scrub_mib" --arg machine "$machine" --arg cmdline "$cmdline" --arg plain "$plain_cmdline" '
  def median: sort | .[(length - 1) / 2 | floor];
  def stat: {median: median, min: min, max: max, samples: .};
  def ratio($a; $b): if $a == null or $b == null or $b == 0 then null else $a / $b end;
  # A QEMU row from its timed and counted runs; null when there were none.
  def qemu_figures($timed; $counted): if ($counted | length) == 0 then null else {
      wall_ms: ($timed | map(.wall_ms) | stat),
      exits_total: ($counted | map(.kvm_debugfs.exits) | stat),
      io_exits: ($counted | map(.kvm_debugfs.io_exits) | stat),
      exits_to_userspace: ($counted | map(.traced.kvm_userspace_exit.total // null)
        | if any(. == null) then null else stat end),
      vmm_rss_bytes: ($counted | map(.vmm_memory.rss_bytes) | stat),
      vmm_pss_bytes: ($counted | map(.vmm_memory.pss_bytes) | stat)
    } end;
  . as $all
  | (map(select(.vmm == "tandem" and .kind == "timed"))) as $t
  | (map(select(.vmm == "tandem" and .kind == "traced")) | first) as $tt
  | (map(select(.vmm == "qemu" and .kind == "timed"))) as $qt
  | (map(select(.vmm == "qemu" and .kind == "counted"))) as $qc
  | (map(select(.vmm == "qemu" and .kind == "timed_stock"))) as $st
  | (map(select(.vmm == "qemu" and .kind == "counted_stock"))) as $sc
  | (map(select(.vmm == "qemu" and .kind == "timed_plain"))) as $pt
  | (map(select(.vmm == "qemu" and .kind == "counted_plain"))) as $pc
  | {
      tandem: {
        wall_ms: ($t | map(.wall_ms) | stat),
        exits_total: ($t | map(.stats.kvm_stats.exits) | stat),
        io_exits: ($t | map(.stats.kvm_stats.io_exits) | stat),
        exits_to_userspace: ($t | map(.stats.exits_to_vmm.total) | stat),
        vmm_rss_bytes: ($t | map(.stats.vmm_memory.rss_bytes) | stat),
        vmm_pss_bytes: ($t | map(.stats.vmm_memory.pss_bytes) | stat),
        supervisor_rss_bytes: ($t | map(.stats.supervisor_memory.rss_bytes) | stat),
        timeline_ms: ($t | map(.stats.timeline_ms))
      },
      qemu: qemu_figures($qt; $qc),
      qemu_stock_kernel: qemu_figures($st; $sc),
      qemu_plain_cmdline: qemu_figures($pt; $pc),
      # Every exit by its SVM exit code, and port I/O and MSR exits by port and MSR: tandem from
      # its traced run, QEMU from its first counted run of each kernel.
      exits_by_reason: {tandem: $tt.traced.kvm_exit.by, qemu: ($qc | first | .traced.kvm_exit.by),
        qemu_stock_kernel: ($sc | first | .traced.kvm_exit.by),
        qemu_plain_cmdline: ($pc | first | .traced.kvm_exit.by)},
      port_exits: {tandem: $tt.traced.kvm_pio.by, qemu: ($qc | first | .traced.kvm_pio.by),
        qemu_stock_kernel: ($sc | first | .traced.kvm_pio.by),
        qemu_plain_cmdline: ($pc | first | .traced.kvm_pio.by)},
      msr_exits: {tandem: $tt.traced.kvm_msr.by, qemu: ($qc | first | .traced.kvm_msr.by),
        qemu_stock_kernel: ($sc | first | .traced.kvm_msr.by),
        qemu_plain_cmdline: ($pc | first | .traced.kvm_msr.by)},
      tandem_cold_boot: {wall_ms: $tt.wall_ms, timeline_ms: $tt.stats.timeline_ms},
      tracepoint_check: (if $tt.traced == null then null else
        {tandem_exits_to_vmm: $tt.stats.exits_to_vmm.total,
         tandem_traced: $tt.traced.kvm_userspace_exit.total} end)
    }
  # Wall times compare only within one boot of the emulated host: a ratio per boot, then the
  # median of those.
  | . + {per_boot: ($all | group_by(.boot) | map(
      (map(select(.vmm == "tandem" and .kind == "timed")) | map(.wall_ms) | median) as $tw
      | (map(select(.vmm == "qemu" and .kind == "timed")) | map(.wall_ms) | median) as $qw
      | (map(select(.vmm == "qemu" and .kind == "timed_plain")) | map(.wall_ms)
        | if length == 0 then null else median end) as $pw
      | {boot: .[0].boot, tandem_wall_ms: $tw, qemu_wall_ms: $qw, wall_ratio: ratio($tw; $qw),
         qemu_plain_cmdline_wall_ms: $pw, wall_ratio_plain_cmdline: ratio($tw; $pw)}))}
  | . + {ratios: {
      wall_median: (.per_boot | map(.wall_ratio) | median),
      exits_total_median: ratio(.tandem.exits_total.median; .qemu.exits_total.median),
      exits_total_vs_stock_kernel:
        ratio(.tandem.exits_total.median; .qemu_stock_kernel.exits_total.median?),
      wall_vs_stock_kernel: ratio(.tandem.wall_ms.median; .qemu_stock_kernel.wall_ms.median?),
      exits_total_vs_plain_cmdline:
        ratio(.tandem.exits_total.median; .qemu_plain_cmdline.exits_total.median?),
      wall_vs_plain_cmdline: (.per_boot | map(.wall_ratio_plain_cmdline)
        | if any(. == null) then null else median end),
      exits_to_userspace_median:
        ratio(.tandem.exits_to_userspace.median; .qemu.exits_to_userspace.median?),
      vmm_rss_median: ratio(.tandem.vmm_rss_bytes.median; .qemu.vmm_rss_bytes.median)}}
  | . + {targets: {
      "wall <= 0.5x QEMU, same kernel and command line": (.ratios.wall_median <= 0.5),
      "total exits <= 0.1x QEMU, same kernel and command line":
        (.ratios.exits_total_median <= 0.1),
      "wall <= 0.5x QEMU, same kernel, plain command line":
        (if .ratios.wall_vs_plain_cmdline == null then null
         else .ratios.wall_vs_plain_cmdline <= 0.5 end),
      "total exits <= 0.1x QEMU, same kernel, plain command line":
        (if .ratios.exits_total_vs_plain_cmdline == null then null
         else .ratios.exits_total_vs_plain_cmdline <= 0.1 end),
      "total exits <= 0.1x QEMU with the stock kernel":
        (if .ratios.exits_total_vs_stock_kernel == null then null
         else .ratios.exits_total_vs_stock_kernel <= 0.1 end),
      "VMM RSS overhead <= 3 MiB": (.tandem.vmm_rss_bytes.median <= 3 * 1048576)}}
  | {runs: $runs, boots: ($all | map(.boot) | max), host_cpus: $host_cpus, qemu_machine: $machine, scrub_mib: $scrub, kernel_cmdline: $cmdline, plain_cmdline: $plain, memory_mib: 256, vcpus: 1}
    + . + {records: $records}
' --slurpfile records "$records" "$records" >"$output"

jq -r '
  def n: if . == null then "n/a" else tostring end;
  def ms: if . == null then "n/a" else (. * 10 | round / 10 | tostring) end;
  def mib: if . == null then "n/a" else (. / 1048576 * 100 | round / 100 | tostring) end;
  def x: if . == null then "n/a" else (. * 1000 | round / 1000 | tostring) + "x" end;
  def row($name; f): "| \($name) | \(.tandem | f) | \(.qemu | f) | \(.qemu_plain_cmdline | if . == null then "n/a" else f end) | \(.qemu_stock_kernel | if . == null then "n/a" else f end) |";
  # AMD SVM exit codes (the emulated host is AMD); the rest are shown in hex.
  def svm: {"0x60": "INTR", "0x61": "NMI", "0x64": "VINTR", "0x6e": "RDTSC", "0x72": "CPUID",
    "0x77": "PAUSE", "0x78": "HLT", "0x7b": "IOIO", "0x7c": "MSR", "0x7f": "SHUTDOWN",
    "0x81": "VMMCALL", "0x87": "RDTSCP", "0x89": "WBINVD", "0x8d": "XSETBV", "0x400": "NPF"}[.] // .;
  def reasons($who): (.exits_by_reason[$who] // {}) | to_entries | sort_by(-.value)
    | map("\(.key | svm) \(.value)") | join(", ");
  "| per boot of `true` | tandem | QEMU microvm | QEMU microvm, plain command line | QEMU microvm + stock kernel |",
  "|---|---:|---:|---:|---:|",
  row("wall, median (ms)"; .wall_ms.median | ms),
  row("wall, min (ms)"; .wall_ms.min | ms),
  row("exits, total (KVM), median"; .exits_total.median | n),
  row("  of which port I/O, median"; .io_exits.median | n),
  row("exits to userspace, median"; .exits_to_userspace.median? | n),
  row("VMM RSS without guest RAM, median (MiB)"; .vmm_rss_bytes.median | mib),
  row("VMM PSS without guest RAM, median (MiB)"; .vmm_pss_bytes.median | mib),
  "",
  "tandem, the supervising process beside tandem-vmm (not part of the VMM figure): RSS \(.tandem.supervisor_rss_bytes.median | mib) MiB, median",
  "tandem cold boot (its first of this bzImage in the host: decompresses the kernel and caches it; traced): \(.tandem_cold_boot.wall_ms | ms) ms",
  (if (.per_boot | length) > 1 then .per_boot[] else empty end
    | "host boot \(.boot): tandem \(.tandem_wall_ms | ms) ms, QEMU \(.qemu_wall_ms | ms) ms, wall \(.wall_ratio | x)"),
  "tandem/QEMU (medians; wall: of the per-boot ratios): wall \(.ratios.wall_median | x), total exits \(.ratios.exits_total_median | x), exits to userspace \(.ratios.exits_to_userspace_median | x), VMM RSS \(.ratios.vmm_rss_median | x)",
  (if .ratios.exits_total_vs_plain_cmdline then "tandem/(QEMU, same kernel, plain command line \(.plain_cmdline)): total exits \(.ratios.exits_total_vs_plain_cmdline | x), wall \(.ratios.wall_vs_plain_cmdline | x)" else empty end),
  (if .ratios.exits_total_vs_stock_kernel then "tandem/(QEMU + stock kernel), the whole stack: total exits \(.ratios.exits_total_vs_stock_kernel | x), wall \(.ratios.wall_vs_stock_kernel | x)" else empty end),
  "",
  "exits by reason, tandem: \(reasons("tandem"))",
  "exits by reason, QEMU: \(reasons("qemu"))",
  (if .qemu_plain_cmdline then "exits by reason, QEMU with the plain command line: \(reasons("qemu_plain_cmdline"))" else empty end),
  (if .qemu_stock_kernel then "exits by reason, QEMU + stock kernel: \(reasons("qemu_stock_kernel"))" else empty end),
  (if .tracepoint_check then "tracepoint check (tandem run 0): exits_to_vmm.total \(.tracepoint_check.tandem_exits_to_vmm), kvm_userspace_exit hits \(.tracepoint_check.tandem_traced)" else empty end),
  "",
  "targets: " + (.targets | to_entries | map("\(.key): \(if .value == null then "not measured" elif .value then "holds" else "MISSED" end)") | join("; "))
' "$output"
echo "JSON written to $output" >&2

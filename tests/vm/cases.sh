#!/usr/bin/env bash
# The microVM cases, as TAP. Runs where /dev/kvm works: on a KVM host directly, or inside the
# emulated KVM host (suite.sh decides). Each case boots a real guest with tandem's VMM.
set -uo pipefail

: "${TANDEM:?}" "${TANDEM_GUEST_KERNEL:?}" "${TANDEM_GUEST_INIT:?}" "${TANDEM_VMM:?}" "${GUEST_ROOTFS:?}"
: "${KVM_DEVICE_TEST:?}"
VMLINUX=${TANDEM_GUEST_VMLINUX:-}

scratch=$(mktemp -d /tmp/tandem-vm.XXXXXX)
# Only this shell's own exit removes it: a subshell that a signal ends before it has reset its
# traps (bounded's watchdog, killed as soon as it starts) runs the EXIT trap it inherited.
trap '[[ $BASHPID == '"$$"' ]] && rm -rf "$scratch"' EXIT

count=0
failures=0
case_started=$SECONDS
# ok NAME / not_ok NAME DETAIL...: one TAP line per case, details as comments. Each line also
# goes to stderr with the case's duration, so that a run which never finishes still shows,
# where only stderr is kept, how far it got and how long each case took.
ok() {
  count=$((count + 1))
  echo "ok $count - $1"
  echo "vm case $count ok after $((SECONDS - case_started)) s: $1" >&2
  case_started=$SECONDS
}
not_ok() {
  count=$((count + 1))
  failures=$((failures + 1))
  echo "not ok $count - $1"
  echo "vm case $count FAILED after $((SECONDS - case_started)) s: $1" >&2
  case_started=$SECONDS
  shift
  printf '%s\n' "$@" | sed 's/^/# /'
}

# A case's tandem run that takes longer than this is hung: the slowest here boots one guest
# and runs a few seconds of work, which takes well under a minute even in the emulated host.
readonly run_deadline=${VM_RUN_DEADLINE:-240}

# PIDs of tandem processes that are still running (the emulated host has no pgrep). Builtins
# only: every process started costs tens of milliseconds in the emulated host.
tandem_pids() {
  local dir arg0
  for dir in /proc/[0-9]*; do
    arg0=''
    read -r -d '' arg0 2>/dev/null <"$dir/cmdline"
    [[ $arg0 == "$TANDEM" || $arg0 == "$TANDEM_VMM" ]] && echo "${dir#/proc/}"
  done
}

# What every thread of process PID is doing, from the kernel's side: the part of a hang
# report that the hung process itself cannot give.
describe_threads() {
  local task stat
  for task in /proc/"$1"/task/*; do
    read -r stat <"$task/stat" 2>/dev/null || continue
    echo "thread ${task##*/}: $stat"
    echo "  waiting in: $(cat "$task/wchan" 2>/dev/null)"
    sed 's/^/  /' "$task/stack" 2>/dev/null
  done
}

# For a VMM process PID: whether its guest is busy, and on what. KVM's counters (debugfs, where
# mounted) twice, two seconds apart, then the I/O ports of a half second of port exits.
describe_guest() {
  local vm counter tracing=/sys/kernel/debug/tracing/events/kvm/kvm_pio
  for vm in /sys/kernel/debug/kvm/"$1"-*; do
    [[ -r $vm/exits ]] || continue
    for sample in first second; do
      echo "KVM counters, $sample sample:" $(for counter in exits io_exits mmio_exits \
        halt_exits irq_injections; do echo "$counter=$(cat "$vm/$counter")"; done)
      [[ $sample == second ]] || sleep 2
    done
  done
  [[ -w $tracing/enable ]] || return 0
  echo >/sys/kernel/debug/tracing/trace
  echo 1 >"$tracing/enable"
  sleep 0.5
  echo 0 >"$tracing/enable"
  echo "port exits in half a second, by port and direction:"
  grep -o 'pio_[a-z]* at 0x[0-9a-f]*' /sys/kernel/debug/tracing/trace | sort | uniq -c
}

# bounded COMMAND...: runs COMMAND (stdin included) with a watchdog. Past run_deadline, each
# thread of COMMAND's process is described on stderr and COMMAND is killed, so that a hang
# fails its own case with a report instead of stopping the whole suite without one.
bounded() {
  "$@" <&0 &
  local pid=$!
  (
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    # Off the caller's pipes: a sleep the watchdog could not kill (it was killed before it knew
    # the sleep's pid) must not hold a $(...) open until the deadline.
    sleep "$run_deadline" >/dev/null 2>&1 &
    sleeper=$!
    wait "$sleeper"
    {
      echo "vm cases: $* still running after $run_deadline s; its threads:"
      describe_threads "$pid"
      # The VM itself belongs to tandem's child, tandem-vmm.
      for vmm in $(tandem_pids); do
        [[ $vmm == "$pid" ]] && continue
        echo "process $vmm, tandem-vmm:"
        describe_threads "$vmm"
        describe_guest "$vmm"
      done
      echo "the emulated host's kernel log, last lines:"
      dmesg | tail -n 20
    } >&2
    kill -KILL "$pid"
  ) &
  local watchdog=$!
  wait "$pid"
  local run_status=$?
  kill "$watchdog" 2>/dev/null
  wait "$watchdog"
  return "$run_status"
}

# vm ARGS... -- COMMAND: one microVM run; stdout, stderr and status in $out, $err, $status.
vm() {
  bounded "$TANDEM" run --isolation vm --rootfs "$GUEST_ROOTFS" "$@" >"$scratch/out" \
    2>"$scratch/err" </dev/null
  status=$?
  out=$(cat "$scratch/out")
  err=$(cat "$scratch/err")
}

expect() {
  local name=$1 want_status=$2 want_out=$3
  if [[ $status == "$want_status" && $out == "$want_out" ]]; then
    ok "$name"
  else
    not_ok "$name" "status $status (want $want_status)" "stdout: $out" "want:   $want_out" \
      "stderr: $err"
  fi
}

if bounded "$KVM_DEVICE_TEST" >"$scratch/kvm-test" 2>&1; then
  ok "the KVM wrappers open /dev/kvm and check its API"
else
  not_ok "the KVM wrappers open /dev/kvm and check its API" "$(cat "$scratch/kvm-test")"
fi

vm -- echo hello from the guest
expect "stdout reaches the host" 0 "hello from the guest"

vm -- sh -c 'echo to-stdout; echo to-stderr >&2'
if [[ $out == to-stdout && $err == to-stderr ]]; then
  ok "stdout and stderr stay apart"
else
  not_ok "stdout and stderr stay apart" "stdout: $out" "stderr: $err"
fi

# The workload's output travels over vsock, not COM1: 3.4 MB (seq 1 500000), which COM1 would
# take many minutes to carry, arrives whole and in order, its stderr still apart.
vm -- sh -c 'seq 1 500000; echo done >&2'
want_sum=$(seq 1 500000 | md5sum)
got_sum=$(md5sum <"$scratch/out")
if [[ $status == 0 && $got_sum == "$want_sum" && $err == done ]]; then
  ok "3.4 MB of output arrive whole over vsock, stderr apart"
else
  not_ok "3.4 MB of output arrive whole over vsock, stderr apart" "status $status" \
    "stdout: $(wc -c <"$scratch/out") bytes, md5 $got_sum (want $want_sum)" "stderr: $err"
fi

for code in 1 2 42 126 127 128 200 254 255; do
  vm -- sh -c "exit $code"
  expect "exit code $code" "$code" ""
done

# The state store records a microVM as it does a container: `tandem ps -a` shows it ended, with
# its level and code (JSON keys come sorted).
vm --name ps-check -- sh -c 'exit 7'
record=$("$TANDEM" ps -a --json | grep '"name":"ps-check"')
if [[ $status == 7 && $record == *'"exit_code":7'* && $record == *'"isolation":"vm"'* &&
  $record == *'"state":"exited"'* ]]; then
  ok "tandem ps -a lists an ended microVM with its isolation level and exit code"
else
  not_ok "tandem ps -a lists an ended microVM" "status $status" "record: $record" "stderr: $err"
fi

vm -- sh -c 'kill -TERM $$'
expect "death by SIGTERM is 128+15" 143 ""
vm -- sh -c 'kill -KILL $$'
expect "death by SIGKILL is 128+9" 137 ""

# Six times the VMM's stdin window (vmm/guest_protocol.h), so that only the guest's credits
# keep it flowing; every byte value, with 96 KiB of random bytes. Stdio over the UART costs VM
# exits per byte, slow in the emulated host: this takes about 30 s there.
head -c 98304 /dev/urandom >"$scratch/binary"
bounded "$TANDEM" run --isolation vm --rootfs "$GUEST_ROOTFS" -- cat <"$scratch/binary" \
  >"$scratch/copy" 2>"$scratch/err"
status=$?
if [[ $status == 0 ]] && cmp -s "$scratch/binary" "$scratch/copy"; then
  ok "binary stdin reaches the workload and comes back unchanged"
else
  not_ok "binary stdin reaches the workload and comes back unchanged" "status $status" \
    "$(cmp "$scratch/binary" "$scratch/copy" 2>&1)" "stderr: $(cat "$scratch/err")"
fi

out=$(printf 'line one\nline two\n' |
  bounded "$TANDEM" run --isolation vm --rootfs "$GUEST_ROOTFS" -- sh -c 'read a; read b; echo "$b/$a"' \
    2>"$scratch/err")
status=$?
expect "stdin lines are read by a shell" 0 "line two/line one"

vm -- true
expect "no stdin: the workload sees end of input at once" 0 ""

for cpus in 1 2; do
  vm --cpus "$cpus" -- nproc
  expect "--cpus $cpus gives $cpus vCPUs" 0 "$cpus"
done

vm --memory 256M -- sh -c "awk '/MemTotal/ {print \$2}' /proc/meminfo"
if [[ $status == 0 && $out -le $((256 * 1024)) && $out -ge $((256 * 1024 - 24 * 1024)) ]]; then
  ok "MemTotal matches --memory 256M ($out kB)"
else
  not_ok "MemTotal matches --memory 256M" "status $status, MemTotal $out kB" "stderr: $err"
fi

vm -- sh -c 'echo c > /proc/sysrq-trigger'
if [[ $status == 125 && $err == *"panicked"* ]]; then
  ok "a guest kernel panic is a clear error"
else
  not_ok "a guest kernel panic is a clear error" "status $status (want 125)" "stderr: $err"
fi

vm --kernel /etc/passwd -- true
if [[ $status == 125 && $err == *"not a bootable x86-64 Linux kernel"* ]]; then
  ok "a file that is not a kernel is refused"
else
  not_ok "a file that is not a kernel is refused" "status $status" "stderr: $err"
fi

head -c 3000 "$TANDEM_GUEST_KERNEL" >"$scratch/truncated"
vm --kernel "$scratch/truncated" -- true
if [[ $status == 125 && $err == *"truncated"* ]]; then
  ok "a truncated kernel is refused"
else
  not_ok "a truncated kernel is refused" "status $status" "stderr: $err"
fi

started=$SECONDS
vm --timeout 5 -- sleep 1000
leftover=$(tandem_pids)
if [[ $status == 125 && $err == *"timeout"* && -z $leftover && $((SECONDS - started)) -lt 60 ]]; then
  ok "a hung guest is stopped by --timeout"
else
  not_ok "a hung guest is stopped by --timeout" "status $status, $((SECONDS - started)) s" \
    "leftover: $leftover" "stderr: $err"
fi

vm -- sh -c 'cat /sys/class/misc/hw_random/rng_current; head -c 32 /dev/hwrng | od -An -tx1 |
  tr -d " \n" | wc -c'
expect "the guest's /dev/hwrng is tandem's virtio-rng" 0 "virtio_rng.0
64"

# A host file as /dev/vda (read-write) and /dev/vdb (read-only): the guest reads the host's
# bytes, its write lands in the file, and the read-only disk refuses writes.
head -c 1048576 /dev/urandom >"$scratch/disk-a"
printf 'read-only disk' >"$scratch/disk-b"
truncate -s 64K "$scratch/disk-b"
want_sum=$(head -c 4096 "$scratch/disk-a" | md5sum | cut -d' ' -f1)
vm --disk "$scratch/disk-a" --disk "$scratch/disk-b:ro" -- sh -c '
  cat /sys/block/vda/size /sys/block/vda/ro /sys/block/vdb/ro
  head -c 4096 /dev/vda | md5sum | cut -d" " -f1
  echo written-by-the-guest | dd of=/dev/vda bs=512 seek=100 conv=notrunc,fsync 2>/dev/null
  head -c 14 /dev/vdb; echo
  echo x | dd of=/dev/vdb bs=512 conv=notrunc,fsync 2>/dev/null && echo wrote-vdb || echo vdb-refused'
written=$(dd if="$scratch/disk-a" bs=512 skip=100 count=1 2>/dev/null | head -c 20)
if [[ $status == 0 && $out == "2048
0
1
$want_sum
read-only disk
vdb-refused" && $written == written-by-the-guest ]]; then
  ok "--disk files are the guest's virtio-blk /dev/vda (read-write) and /dev/vdb (read-only)"
else
  not_ok "--disk files are the guest's virtio-blk disks" "status $status" "stdout: $out" \
    "want sum $want_sum; sector 100 on the host: $written" "stderr: $err"
fi

# 256 MiB of random bytes from a read-only disk into a file on a second disk's fresh file system,
# then read back from a fresh mount (page cache dropped): the checksum survives both directions.
head -c 268435456 /dev/urandom >"$scratch/big-source"
want_sum=$(md5sum <"$scratch/big-source" | cut -d' ' -f1)
truncate -s 320M "$scratch/big-target"
vm --memory 256M --disk "$scratch/big-source:ro" --disk "$scratch/big-target" -- sh -c '
  mke2fs -q /dev/vdb >/dev/null && mkdir -p /mnt && mount -t ext4 /dev/vdb /mnt || exit 9
  dd if=/dev/vda of=/mnt/file bs=1M 2>/dev/null && sync
  umount /mnt && mount -t ext4 /dev/vdb /mnt && echo 3 >/proc/sys/vm/drop_caches
  wc -c </mnt/file
  md5sum /mnt/file | cut -d" " -f1
  umount /mnt'
expect "a 256 MiB file written and read back through virtio-blk keeps its checksum" 0 \
  "268435456
$want_sum"
rm -f "$scratch/big-source" "$scratch/big-target"

# Volumes: a host folder, copied onto a read-only drive at start, and a disk volume, whose ext4
# the guest mounts read-write and whose write the host reads back. The folder's copy goes with the
# microVM; a writable folder volume is refused, since no write could reach the folder.
if command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null; then
  mkdir -p "$scratch/volumes/data"
  echo from-the-host >"$scratch/volumes/data/greeting"
  truncate -s 16M "$scratch/volumes/disk.ext4"
  mkfs.ext4 -q -d "$scratch/volumes/data" "$scratch/volumes/disk.ext4"
  vm -v "$scratch/volumes/data:/srv/data:ro" -v "$scratch/volumes/disk.ext4:/var/lib/app:disk" \
    -- sh -c 'cat /srv/data/greeting; touch /srv/data/x 2>/dev/null && echo wrote || echo refused
    cat /var/lib/app/greeting; echo from-the-guest >/var/lib/app/added; sync
    grep -E " /srv/data | /var/lib/app " /proc/mounts | cut -d" " -f1-4'
  added=$(debugfs -R "cat /added" "$scratch/volumes/disk.ext4" 2>/dev/null)
  copies=$(find /var/lib/tandem/vms -name 'volume-*' 2>/dev/null)
  if [[ $status == 0 && $out == "from-the-host
refused
from-the-host
/dev/vda /srv/data ext4 ro,relatime
/dev/vdb /var/lib/app ext4 rw,relatime" && $added == from-the-guest && -z $copies ]]; then
    ok "-v: a folder volume is a read-only drive, a disk volume a writable one the host reads back"
  else
    not_ok "-v: folder and disk volumes" "status $status" "stdout: $out" "on the disk: $added" \
      "copies left: $copies" "stderr: $err"
  fi
  vm -v "$scratch/volumes/data:/srv/data" -- true
  if [[ $status == 125 && $err == *"add :ro, or give a disk volume"* ]]; then
    ok "-v: a writable folder volume is refused for a microVM, with the way forward"
  else
    not_ok "-v: a writable folder volume is refused" "status $status" "stderr: $err"
  fi
  head -c 1048576 /dev/zero >"$scratch/volumes/blank"
  vm -v "$scratch/volumes/blank:/blank:disk" -- true
  if [[ $status == 125 && $err == *"holds no ext4 file system"* ]]; then
    ok "-v: a disk volume without ext4 fails in the guest with a clear error"
  else
    not_ok "-v: a disk volume without ext4 fails clearly" "status $status" "stderr: $err"
  fi
fi

# image_vm ARGS...: tandem run in a microVM from the image store; results as vm's.
image_vm() {
  bounded "$TANDEM" --state-root "$GUEST_STORE" run --isolation vm "$@" >"$scratch/out" \
    2>"$scratch/err" </dev/null
  status=$?
  out=$(cat "$scratch/out")
  err=$(cat "$scratch/err")
}

# An image's microVM boots from the image's ext4 disk on virtio-blk. Its writes land in its own
# layer, kept with its state; the image's disk never changes, and the next workload starts clean.
if [[ -n ${GUEST_STORE:-} ]]; then
  image=localhost/tandem/busybox
  image_disk=$(echo "$GUEST_STORE"/disks/*.ext4)
  disk_sum=$(md5sum <"$image_disk")
  image_vm "$image" sh -c 'grep " / " /proc/mounts | cut -d" " -f1-3
    echo kept-in-the-layer >/root/note && sync && cat /root/note'
  layers=("$GUEST_STORE"/vms/*/layer.img)
  if [[ $status == 0 && $out == "/dev/vda / ext4
kept-in-the-layer" && ${#layers[@]} == 1 && -f ${layers[0]} ]] &&
    grep -q kept-in-the-layer "${layers[0]}" && [[ $(md5sum <"$image_disk") == "$disk_sum" ]]; then
    ok "an image's microVM boots from its ext4 disk; a write lands in the workload's layer only"
  else
    not_ok "an image's microVM boots from its ext4 disk; a write lands in its layer only" \
      "status $status" "stdout: $out" "layers: ${layers[*]}" "stderr: $err"
  fi

  image_vm --rm "$image" sh -c 'cat /root/note 2>/dev/null || echo no-note'
  states=("$GUEST_STORE"/vms/*)
  if [[ $status == 0 && $out == no-note && ${#states[@]} == 1 ]]; then
    ok "the next microVM of the image starts from the image, and --rm leaves no state"
  else
    not_ok "the next microVM of the image starts clean" "status $status" "stdout: $out" \
      "states: ${states[*]}" "stderr: $err"
  fi

  image_vm --rm --read-only "$image" sh -c 'touch /x 2>/dev/null && echo wrote || echo refused
    grep " / " /proc/mounts | cut -d" " -f4 | cut -d, -f1'
  expect "--read-only: an image's microVM gets a read-only root disk" 0 "refused
ro"

  # Restarted by its monitor, a microVM boots again on its own root disk's layer: the second
  # run reads what the first wrote.
  image_vm --restart on-failure:1 "$image" sh -c 'cat /root/runs 2>/dev/null
    echo run >>/root/runs && sync; exit 4'
  expect "--restart on-failure:1: the microVM runs again, on its own root disk's layer" 4 "run"
  rm -rf "$GUEST_STORE"/vms

  # A workload filling its own root disk gets ENOSPC and runs on; its layer on the host is the
  # disk's size from the start and grows no further, whatever the guest writes.
  image_vm "$image" sh -c 'dd if=/dev/zero of=/root/fill bs=1M 2>/dev/null; echo "dd $?"
    rm /root/fill && echo still-running'
  layers=("$GUEST_STORE"/vms/*/layer.img)
  disk_bytes=$(stat -c %s "$image_disk")
  layer_bytes=$(stat -c %s "${layers[0]}" 2>/dev/null)
  layer_used=$(($(stat -c '%b * %B' "${layers[0]}" 2>/dev/null || echo 0)))
  if [[ $status == 0 && $out == $'dd 1\nstill-running' && ${#layers[@]} == 1 &&
    $layer_bytes == "$disk_bytes" ]] && ((layer_used <= disk_bytes)); then
    ok "a microVM filling its own root disk gets ENOSPC; its layer stays the disk's size"
  else
    not_ok "a microVM filling its own root disk gets ENOSPC; its layer stays the disk's size" \
      "status $status" "stdout: $out" "stderr: $err" "disk: $disk_bytes bytes" \
      "layer: $layer_bytes bytes, $layer_used allocated"
  fi
  rm -rf "$GUEST_STORE"/vms
fi

# virtio-net over TAP devices that tandem-vmm creates: a file fetched from the host, and one the
# host sends in, each keep their checksum; the TAPs are gone with the microVMs. Needs root for
# the TAPs and busybox for the host's ends (both hold in the emulated host).
if [[ $(id -u) == 0 && -c /dev/net/tun ]] && command -v busybox >/dev/null; then
  mkdir -p "$scratch/www"
  head -c 1048576 /dev/urandom >"$scratch/www/file"
  want_sum=$(md5sum <"$scratch/www/file" | cut -d' ' -f1)
  busybox httpd -f -p 18080 -h "$scratch/www" &
  httpd=$!
  vm --tap tandem-t0,host=10.77.0.1/24,guest=10.77.0.2/24 -- sh -c '
    ip -4 addr show eth0 | grep -o "inet [0-9./]*"; ip route | grep default | cut -d" " -f1-3
    wget -q -O - http://10.77.0.1:18080/file | md5sum | cut -d" " -f1'
  kill "$httpd" 2>/dev/null
  wait "$httpd" 2>/dev/null
  if [[ -e /sys/class/net/tandem-t0 ]]; then
    status="TAP tandem-t0 still there"
  fi
  expect "virtio-net: the guest's eth0 is configured and fetches a file from the host intact" 0 \
    "inet 10.77.0.2/24
default via 10.77.0.1
$want_sum"

  (
    for ((i = 0; i < 600; i++)); do
      busybox nc 10.77.1.2 19000 <"$scratch/www/file" 2>/dev/null && exit 0
      sleep 0.1
    done
    exit 1
  ) &
  sender=$!
  # busybox nc stops reading the network soon after its own stdin ends: the server's stdin is a
  # FIFO held open until it is done.
  vm --tap tandem-t1,host=10.77.1.1/24,guest=10.77.1.2/24 -- sh -c '
    mkfifo /tmp/in || exit 9
    nc -l -p 19000 </tmp/in >/tmp/got & exec 3>/tmp/in; wait $!
    md5sum </tmp/got | cut -d" " -f1'
  wait "$sender" || status="the host could not connect to the guest"
  expect "virtio-net: a file the host sends to a server in the microVM arrives intact" 0 "$want_sum"
else
  ok "virtio-net cases # SKIP need root, /dev/net/tun and busybox"
  ok "virtio-net host-to-guest case # SKIP need root, /dev/net/tun and busybox"
fi

# shellcheck source=http.sh
source "$(dirname "$0")/http.sh"

# --network bridge and -p, both levels on one bridge: a server in a microVM and one in a
# container each answer the host through a published port, and each other's level across the
# bridge; the leases and the bridge's ports are gone with them.
if [[ $(id -u) == 0 && -c /dev/net/tun && -d /sys/fs/cgroup ]]; then
  net_state=$scratch/net-state
  # serve LEVEL PORT NAME: a server answering NAME on port 8000, published on 127.0.0.1:PORT.
  serve() {
    "$TANDEM" --state-root "$net_state" run --isolation "$1" --rootfs "$GUEST_ROOTFS" \
      --network bridge -p "127.0.0.1:$2:8000" -- sh -c '
        ip -4 addr show eth0 | grep -o "inet [0-9.]*"
        mkdir /tmp/w && echo '"$3"' >/tmp/w/index.html
        trap "exit 0" TERM
        httpd -f -p 8000 -h /tmp/w & wait' \
      </dev/null >"$scratch/$1-server-out" 2>"$scratch/$1-server-err" &
  }
  # fetch LEVEL URL: what a workload at LEVEL on the bridge gets from URL.
  fetch() {
    bounded "$TANDEM" --state-root "$net_state" run --isolation "$1" --rootfs "$GUEST_ROOTFS" \
      --network bridge -- wget -q -O - "$2" </dev/null >"$scratch/out" 2>"$scratch/err"
    echo "status $? $(cat "$scratch/out") $(cat "$scratch/err")"
  }
  serve vm 18090 from-the-microvm
  vm_server=$!
  serve container 18091 from-the-container
  container_server=$!
  for port in 18090 18091; do
    for ((i = 0; i < 600; i++)); do
      http_get 127.0.0.1 "$port" >"$scratch/published-$port" 2>/dev/null && break
      kill -0 "$vm_server" "$container_server" 2>/dev/null || break
      sleep 0.2
    done
  done
  vm_address=$(sed -n 's/^inet //p' "$scratch/vm-server-out")
  container_address=$(sed -n 's/^inet //p' "$scratch/container-server-out")
  got="$(cat "$scratch/published-18090") $(cat "$scratch/published-18091")
$(http_get "$vm_address" 8000 2>/dev/null) $(http_get "$container_address" 8000 2>/dev/null)
$(fetch container "http://$vm_address:8000/")
$(fetch vm "http://$container_address:8000/")"
  kill -TERM "$vm_server" "$container_server"
  wait "$vm_server" "$container_server"
  leases=$(ls "$net_state/network/tandem0" 2>/dev/null)
  ports=$(ls /sys/class/net/tandem0/brif 2>/dev/null)
  want="from-the-microvm from-the-container
from-the-microvm from-the-container
status 0 from-the-microvm 
status 0 from-the-container "
  if [[ $got == "$want" && -z $leases && -z $ports ]]; then
    ok "--network bridge -p: servers in a microVM and a container answer the host and each other"
  else
    not_ok "--network bridge -p: servers in a microVM and a container answer the host and each other" \
      "got: $got" "want: $want" "addresses: microVM $vm_address, container $container_address" \
      "leases left: $leases" "bridge ports left: $ports" \
      "microVM server: $(cat "$scratch/vm-server-err")" \
      "container server: $(cat "$scratch/container-server-err")"
  fi
else
  ok "--network bridge -p # SKIP needs root, /dev/net/tun and cgroups"
fi

# tandem exec: more processes in a running microVM through the guest agent over vsock, with
# stdout and stderr apart, stdin, the exit code or signal, -e and -w; the socket goes with the VM.
exec_state=$scratch/exec-state
"$TANDEM" --state-root "$exec_state" run --isolation vm --rootfs "$GUEST_ROOTFS" --name agent-test \
  -e FROM_RUN=run-env -- sh -c 'echo up; sleep 120' </dev/null >"$scratch/exec-vm-out" \
  2>"$scratch/exec-vm-err" &
exec_vm=$!
for ((i = 0; i < 600; i++)); do
  "$TANDEM" --state-root "$exec_state" exec agent-test true 2>"$scratch/exec-try" && break
  kill -0 "$exec_vm" 2>/dev/null || break
  sleep 0.2
done
tandem_exec() { bounded "$TANDEM" --state-root "$exec_state" exec "$@"; }
tandem_exec agent-test sh -c 'echo to-stdout; echo to-stderr >&2; exit 3' \
  >"$scratch/exec-out" 2>"$scratch/exec-err" </dev/null
got="status $? out [$(cat "$scratch/exec-out")] err [$(cat "$scratch/exec-err")]
$(echo piped-in | tandem_exec -i agent-test sh -c 'cat; echo $FROM_RUN' 2>&1)
$(tandem_exec -e EXTRA=given -w /tmp agent-test sh -c 'echo $EXTRA $(pwd)' 2>&1 </dev/null)
$(tandem_exec agent-test sh -c 'kill -9 $$' </dev/null 2>&1; echo "status $?")
$(tandem_exec agent-test no-such-command </dev/null 2>/dev/null; echo "status $?")
$(head -c 3000000 /dev/zero | tandem_exec -i agent-test wc -c 2>&1)"
kill -TERM "$exec_vm"
wait "$exec_vm"
sockets=$(ls "$exec_state"/vms/*/vsock/vsock.sock* 2>/dev/null)
want="status 3 out [to-stdout] err [to-stderr]
piped-in
run-env
given /tmp
status 137
status 127
3000000"
if [[ $got == "$want" && -z $sockets ]]; then
  ok "tandem exec over vsock: stdout and stderr apart, stdin, env, workdir and exit status"
else
  not_ok "tandem exec over vsock: stdout and stderr apart, stdin, env, workdir and exit status" \
    "got: $got" "want: $want" "sockets left: $sockets" "last try: $(cat "$scratch/exec-try")" \
    "microVM: $(cat "$scratch/exec-vm-out" "$scratch/exec-vm-err")"
fi

# signal_tandem SIGNAL: starts a microVM whose workload says "ready" and sleeps, sends SIGNAL to
# tandem once the guest is up, and leaves tandem's status in $status (the VMM is tandem-vmm, a
# child of the workload's monitor, to which tandem passes SIGINT, SIGTERM and SIGHUP on).
signal_tandem() {
  # Emptied here, not by the child's redirection, which may come after the first look: a "ready"
  # an earlier run left must not pass for this one's.
  : >"$scratch/out"
  "$TANDEM" run --isolation vm --rootfs "$GUEST_ROOTFS" -- sh -c 'echo ready; exec sleep 1000' \
    </dev/null >"$scratch/out" 2>"$scratch/err" &
  local pid=$! i
  for ((i = 0; i < 1200; i++)); do
    [[ $(<"$scratch/out") == ready ]] && break
    sleep 0.1
  done
  kill "-$1" "$pid"
  status=0
  wait "$pid" || status=$?
  err=$(<"$scratch/err")
}

signal_tandem TERM
leftover=$(tandem_pids)
if [[ $status == 143 && -z $leftover ]]; then
  ok "SIGTERM to tandem stops the microVM (status 143)"
else
  not_ok "SIGTERM to tandem stops the microVM" "status $status" "leftover: $leftover" "$err"
fi

# A SIGKILLed tandem loses nothing: the microVM runs on under its monitor, which `tandem stop`
# reaches from another process; the monitor records the end.
signal_tandem KILL
killed_status=$status
record=$("$TANDEM" ps --json | grep '"isolation":"vm"')
id=$(sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p' <<<"$record")
stopped=$(bounded "$TANDEM" stop -t 5 "$id" 2>&1)
ended=$("$TANDEM" inspect "$id" 2>&1 | grep -o '"exit_code": [0-9]*')
for ((i = 0; i < 50; i++)); do
  leftover=$(tandem_pids)
  [[ -z $leftover ]] && break
  sleep 0.1
done
if [[ $killed_status == 137 && $record == *'"state":"running"'* && $stopped == "$id" &&
  $ended == '"exit_code": 143' && -z $leftover ]]; then
  ok "a killed tandem's microVM runs on under its monitor, and tandem stop ends it (143)"
else
  not_ok "a killed tandem's microVM runs on under its monitor, and tandem stop ends it" \
    "tandem's status $killed_status" "record: $record" "stop: $stopped" "ended: $ended" \
    "leftover: $leftover" "ps -a: $("$TANDEM" ps -a 2>&1)"
fi

# run -d, logs, kill and wait on a microVM, as on a container; then a SIGKILLed monitor takes
# its tandem-vmm along, and the next command finds the workload lost.
vm_id=$(bounded "$TANDEM" run -d --isolation vm --rootfs "$GUEST_ROOTFS" --name detached-vm -- \
  sh -c 'echo out-line; echo err-line >&2; exec sleep 1000' 2>"$scratch/err" </dev/null)
for ((i = 0; i < 1200; i++)); do
  [[ $("$TANDEM" logs detached-vm 2>/dev/null) == out-line ]] && break
  sleep 0.1
done
logs_out=$("$TANDEM" logs detached-vm 2>/dev/null)
logs_err=$("$TANDEM" logs detached-vm 2>&1 >/dev/null)
# tandem-vmm's CPU and resident memory (the guest's touched memory in it); the guest's memory as
# the limit.
stats=$("$TANDEM" stats --no-stream --json detached-vm 2>&1)
killed=$("$TANDEM" kill detached-vm 2>&1)
waited=$(bounded "$TANDEM" wait detached-vm 2>&1)
if [[ $vm_id =~ ^[0-9a-f]{64}$ && $logs_out == out-line && $logs_err == err-line &&
  $stats == *'"memory_limit_bytes":268435456'* && $stats =~ \"memory_bytes\":[1-9] &&
  $stats =~ \"cpu_ns\":[1-9] && $killed == detached-vm && $waited == 137 ]]; then
  ok "run -d, logs, stats, kill and wait on a microVM"
else
  not_ok "run -d, logs, stats, kill and wait on a microVM" "id: $vm_id" "stdout: $logs_out" \
    "stats: $stats" \
    "stderr: $logs_err" "kill: $killed" "wait: $waited" "run's stderr: $(<"$scratch/err")" \
    "its log: $(tail -n 5 "/var/lib/tandem/workloads/$vm_id/log" 2>&1)"
fi

# Every thread of tandem-vmm runs under its own seccomp allowlist (vmm/thread_seccomp.h): the
# main thread and one named thread per vCPU, each in filter mode. The process holds no
# capability and cannot gain one, dumps no core, and has ceilings on its descriptors and on the
# files it writes (vmm/process_lockdown.h).
bounded "$TANDEM" run -d --isolation vm --rootfs "$GUEST_ROOTFS" --cpus 2 --name filtered-vm -- \
  sh -c 'echo ready; exec sleep 1000' >/dev/null 2>&1 </dev/null
for ((i = 0; i < 1200; i++)); do
  [[ $("$TANDEM" logs filtered-vm 2>/dev/null) == ready ]] && break
  sleep 0.1
done
threads='' privileges='' limits=''
for pid in $(tandem_pids); do
  arg0=''
  read -r -d '' arg0 2>/dev/null <"/proc/$pid/cmdline"
  [[ $arg0 == "$TANDEM_VMM" ]] || continue
  for task in /proc/"$pid"/task/*; do
    threads+="$(<"$task/comm") $(grep '^Seccomp:' "$task/status" | tr -d '\t') "
  done
  privileges=$(grep -E '^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs):' "/proc/$pid/status" | tr -d '\t' |
    tr '\n' ' ')
  limits=$(grep -E '^Max (file size|core file size|open files)' "/proc/$pid/limits" | tr -s ' ')
  jail_ids=$(grep -E '^(Uid|Gid|NSpid):' "/proc/$pid/status" | tr -s '\t' ' ' | tr '\n' ' ')
  jail_namespaces=''
  for ns in mnt net ipc uts pid cgroup; do
    [[ $(readlink "/proc/$pid/ns/$ns") == $(readlink "/proc/self/ns/$ns") ]] &&
      jail_namespaces+="$ns "
  done
  jail_root=$(cd "/proc/$pid/root" && echo *)
  jail_mounts=$(awk '{ print $5, $6 }' "/proc/$pid/mountinfo" | tr '\n' ' ')
  jail_sockets=$(cd "/proc/$pid/root/vsock" && echo *)
  jail_pid=$pid
  jail_cgroup=$(<"/proc/$pid/cgroup")
  jail_limits="$(<"/sys/fs/cgroup${jail_cgroup#0::}/memory.max") "
  jail_limits+="$(<"/sys/fs/cgroup${jail_cgroup#0::}/pids.max")"
done
"$TANDEM" rm -f filtered-vm >/dev/null 2>&1
want='tandem-vmm Seccomp:2 tandem-vcpu0 Seccomp:2 tandem-vcpu1 Seccomp:2 '
want_privileges='CapPrm:0000000000000000 CapEff:0000000000000000 CapBnd:0000000000000000 '
want_privileges+='CapAmb:0000000000000000 NoNewPrivs:1 '
# No writable disk: files up to the 1 MiB of its report only (its output goes to a pipe).
want_limits=$'Max file size 1048576 1048576 bytes \nMax core file size 0 0 bytes \n'
want_limits+=$'Max open files 2048 2048 files '
if [[ $threads == "$want" && $privileges == "$want_privileges" && $limits == "$want_limits" ]]; then
  ok "tandem-vmm's threads each run under a seccomp filter, without capabilities or core dumps"
else
  not_ok "tandem-vmm's threads each run under a seccomp filter, without capabilities or core dumps" \
    "threads: $threads" "wanted: $want" "privileges: $privileges" "limits: $limits"
fi

# The jail (vmm/vmm_jail.h): tandem-vmm is the first process of its own pid namespace, has its
# own mount, network, IPC, UTS and cgroup namespaces, runs as a user of its own from the jail
# range (2^30 onwards), and its root is a read-only tmpfs holding only its socket folder (at its
# own path and as /vsock). It sits in its own cgroup, tandem/ID: its 2 vCPU threads and 8 more
# tasks; its memory counted, not capped (a cap would count its disks' page cache).
jail_uid=${jail_ids#Uid: }
jail_uid=${jail_uid%% *}
want_ids="Uid: $jail_uid $jail_uid $jail_uid $jail_uid Gid: $jail_uid $jail_uid $jail_uid $jail_uid "
want_ids+="NSpid: $jail_pid 1 "
first_component=var # of /var/lib/tandem, the default state root filtered-vm ran under
if [[ $jail_uid =~ ^[0-9]+$ ]] && ((jail_uid >= 1073741824 && jail_uid < 1073741824 + 16777216)) &&
  [[ $jail_ids == "$want_ids" && -z $jail_namespaces && $jail_root == "$first_component vsock" &&
    $jail_cgroup =~ ^0::/tandem/[0-9a-f]{64}$ && $jail_limits == "max 10" &&
    $jail_mounts == "/ ro,nosuid,nodev,noexec,relatime "*" rw,nosuid,nodev,noexec " &&
    $jail_sockets == *vsock.sock* ]]; then
  ok "tandem-vmm runs jailed: its own namespaces, user, cgroup and a root holding only its sockets"
else
  not_ok "tandem-vmm runs jailed: its own namespaces, user, cgroup and a root holding only its sockets" \
    "ids: $jail_ids" "wanted: $want_ids" "namespaces shared with the host: $jail_namespaces" \
    "root: $jail_root (wanted: $first_component vsock)" "mounts: $jail_mounts" \
    "sockets: $jail_sockets" "cgroup: $jail_cgroup" "memory.max and pids.max: $jail_limits"
fi

bounded "$TANDEM" run -d --isolation vm --rootfs "$GUEST_ROOTFS" --name lost-vm -- \
  sh -c 'echo ready; exec sleep 1000' >/dev/null 2>&1 </dev/null
for ((i = 0; i < 1200; i++)); do
  [[ $("$TANDEM" logs lost-vm 2>/dev/null) == ready ]] && break
  sleep 0.1
done
monitor=$("$TANDEM" ps --json | grep '"name":"lost-vm"' | sed -n 's/.*"owner_pid":\([0-9]*\).*/\1/p')
[[ -n $monitor ]] && kill -KILL "$monitor"
for ((i = 0; i < 50; i++)); do
  leftover=$(tandem_pids)
  [[ -z $leftover ]] && break
  sleep 0.1
done
said=$("$TANDEM" ps -a --json 2>&1 >/dev/null)
state=$("$TANDEM" ps -a --json 2>/dev/null | grep '"name":"lost-vm"' | grep -o '"state":"[a-z]*"')
removed=$("$TANDEM" rm -f lost-vm detached-vm 2>&1)
if [[ -n $monitor && -z $leftover && $said == *"was lost: its monitor"* &&
  $state == '"state":"lost"' && $removed == $'lost-vm\ndetached-vm' ]]; then
  ok "a killed monitor takes its tandem-vmm along, and the next command reports the lost microVM"
else
  not_ok "a killed monitor takes its tandem-vmm along, and the next command reports it lost" \
    "monitor: $monitor" "leftover: $leftover" "said: $said" "state: $state" "rm: $removed"
fi

# A bounded, seeded crash loop at the microVM level, as the container suite's crash_loop.sh:
# each round SIGKILLs, at a random moment, the tandem that runs a microVM on the bridge network
# (or its monitor), a `tandem stop` of a detached microVM that ignores SIGTERM, or a `tandem rm
# -f` of one. After each round ps is truthful (a record reads running exactly when a tandem-vmm
# for it runs); at the end rm -f takes every record and leaves no tandem-vmm, TAP device,
# address lease or state.
crash_state=$scratch/crash-state
crash_t() { bounded "$TANDEM" --state-root "$crash_state" "$@"; }
# The ids of the records, and their states, as "ID STATE" lines.
crash_records() {
  crash_t ps -a --json 2>/dev/null | sed -n 's/.*"id":"\([0-9a-f]*\)".*"state":"\([a-z]*\)".*/\1 \2/p'
}
# Whether a tandem-vmm runs for the workload whose id starts with $1 (its TAP device and socket
# paths name it on its command line).
vmm_runs_for() {
  local dir args
  for dir in /proc/[0-9]*; do
    args=$(tr '\0' ' ' <"$dir/cmdline" 2>/dev/null) || continue
    [[ $args == "$TANDEM_VMM "* && $args == *"${1:0:12}"* ]] && return 0
  done
  return 1
}
crash_untruthful() {
  local id state says runs
  while read -r id state; do
    [[ -n $id ]] || continue
    says=no runs=no
    [[ $state != running ]] || says=yes
    ! vmm_runs_for "$id" || runs=yes
    [[ $says == "$runs" ]] || echo "${id:0:12} reads $state, its VMM runs: $runs"
  done < <(crash_records)
}
# The tandem-monitor whose command line holds $1.
crash_monitor_of() {
  local dir
  for dir in /proc/[0-9]*; do
    [[ $(cat "$dir/comm" 2>/dev/null) == tandem-monitor ]] || continue
    [[ $(tr '\0' ' ' <"$dir/cmdline" 2>/dev/null) == *"$1"* ]] && echo "${dir#/proc/}" && return 0
  done
  return 1
}
RANDOM=7
crash_problems=()
crash_log=()
for ((round = 1; round <= ${VM_CRASH_ROUNDS:-6}; round++)); do
  name=vround-$round
  case $((RANDOM % 3)) in
    0)
      "$TANDEM" --state-root "$crash_state" run --isolation vm --rootfs "$GUEST_ROOTFS" \
        --network bridge --name "$name" -- sh -c 'sleep 1' </dev/null >/dev/null 2>&1 &
      cli=$!
      sleep "$((RANDOM % 3)).$((RANDOM % 10))"
      victim=$cli what=tandem
      if ((RANDOM % 2)) && monitor=$(crash_monitor_of "--name $name "); then
        victim=$monitor what=monitor
      fi
      crash_log+=("$round: run, SIGKILL to the $what")
      ;;
    *)
      verb=stop
      ((RANDOM % 2)) || verb="rm"
      crash_t run -d --isolation vm --rootfs "$GUEST_ROOTFS" --network bridge --name "$name" -- \
        sh -c "trap '' TERM; sleep 1000" </dev/null >/dev/null 2>&1
      if [[ $verb == stop ]]; then
        "$TANDEM" --state-root "$crash_state" stop -t 1 "$name" >/dev/null 2>&1 &
      else
        "$TANDEM" --state-root "$crash_state" rm -f "$name" >/dev/null 2>&1 &
      fi
      cli=$!
      sleep "$((RANDOM % 2)).$((RANDOM % 10))"
      victim=$cli
      crash_log+=("$round: $verb, SIGKILL to tandem $verb")
      ;;
  esac
  kill -KILL "$victim" 2>/dev/null
  wait "$cli" 2>/dev/null
  for ((i = 0; i < 100; i++)); do
    untrue=$(crash_untruthful)
    [[ -z $untrue ]] && break
    sleep 0.2
  done
  [[ -z $untrue ]] || crash_problems+=("round $round: ps is not truthful: $untrue")
done
crash_ids=$(crash_records | cut -d' ' -f1)
for id in $crash_ids; do
  crash_t rm -f "$id" >/dev/null 2>&1 || crash_problems+=("tandem rm -f $id failed")
done
for ((i = 0; i < 100; i++)); do
  leftover=$(for id in $crash_ids; do vmm_runs_for "$id" && echo "$id"; done)
  [[ -z $leftover ]] && break
  sleep 0.1
done
[[ -z $leftover ]] || crash_problems+=("VMMs still running: $leftover")
[[ -z $(crash_records) ]] || crash_problems+=("records after rm -f: $(crash_records)")
for id in $crash_ids; do
  [[ ! -e /sys/class/net/tdm${id:0:12} ]] || crash_problems+=("TAP device tdm${id:0:12} left")
  [[ ! -e /sys/fs/cgroup/tandem/$id ]] || crash_problems+=("cgroup tandem/$id left")
done
leases=$(find "$crash_state/network" -type f ! -name '.*' 2>/dev/null)
[[ -z $leases ]] || crash_problems+=("address leases left: $leases")
state_left=$(find "$crash_state/workloads" -mindepth 1 -maxdepth 1 2>/dev/null)
[[ -z $state_left ]] || crash_problems+=("state left: $state_left")
if ((${#crash_problems[@]} == 0)); then
  ok "a crash loop of ${#crash_log[@]} microVM rounds (run, stop, rm -f, each SIGKILLed) leaves ps truthful and nothing behind"
else
  not_ok "a crash loop of microVM rounds leaves ps truthful and nothing behind" \
    "${crash_problems[@]}" "rounds: ${crash_log[*]}"
fi

# auto, where KVM works: explain says untrusted code gets a microVM, without running anything;
# run does as it said, and inspect keeps the reason.
auto_state=$scratch/auto-state
explained=$("$TANDEM" --state-root "$auto_state" explain --trust untrusted --rootfs "$GUEST_ROOTFS" \
  -- true 2>&1)
auto_out=$(bounded "$TANDEM" --state-root "$auto_state" run --trust untrusted --name auto-vm \
  --rootfs "$GUEST_ROOTFS" -- sh -c 'echo in-guest; cat /proc/cmdline' </dev/null 2>&1)
auto_inspect=$("$TANDEM" --state-root "$auto_state" inspect auto-vm 2>&1)
if [[ $(head -n 1 <<<"$explained") == "isolation: vm" && $auto_out == "in-guest"*"reboot=k"* &&
  $auto_inspect == *'"isolation": "vm"'* && $auto_inspect == *'"reason": "vm: untrusted'* ]]; then
  ok "auto: explain and run give untrusted code a microVM, and inspect says why"
else
  not_ok "auto: explain and run give untrusted code a microVM, and inspect says why" \
    "explain: $explained" "run: $auto_out" "inspect: $auto_inspect"
fi

# A task at VM level, as Fargate runs one: its three containers run in one microVM (one
# tandem-vmm, under the sandbox's monitor), each a container of the guest's: PID 1 of a PID
# namespace of its own, in a cgroup of its own, with a writable layer of its own, all sharing the
# guest's loopback. dependsOn SUCCESS and HEALTHY hold as at container level; the health check
# and the test's own exec reach a member through the guest agent; the essential container's exit
# code ends the task; nothing is left running.
if [[ -n ${GUEST_STORE:-} && -n ${TANDEM_PAUSE:-} ]]; then
  task_state=$scratch/task-state
  cp -a "$GUEST_STORE" "$task_state"
  cat >"$scratch/task.json" <<JSON
{"family": "vmshop", "isolation": "vm", "networkMode": "none",
 "containerDefinitions": [
  {"name": "setup", "image": "localhost/tandem/busybox", "essential": false,
   "command": ["sh", "-c", "echo pid \$\$; cat /proc/self/cgroup /sys/fs/cgroup/memory.max; echo mine >/etc/setup-was-here"]},
  {"name": "web", "image": "localhost/tandem/busybox", "memory": 64,
   "command": ["sh", "-c", "echo served >/tmp/index.html; cat /etc/setup-was-here 2>/dev/null; cat /sys/fs/cgroup/memory.max; httpd -p 8080 -h /tmp; trap 'exit 0' TERM; while sleep 0.2; do :; done"],
   "dependsOn": [{"containerName": "setup", "condition": "SUCCESS"}],
   "healthCheck": {"command": ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/"],
                   "interval": 5, "timeout": 3, "retries": 3}},
  {"name": "client", "image": "localhost/tandem/busybox",
   "command": ["sh", "-c", "wget -q -O - http://127.0.0.1:8080/; echo pid \$\$; while [ ! -e /tmp/done ]; do sleep 0.2; done; exit 3"],
   "dependsOn": [{"containerName": "web", "condition": "HEALTHY"}]}
 ]}
JSON
  task_t() { bounded "$TANDEM" --state-root "$task_state" "$@"; }
  task_id=$(task_t task run -d "$scratch/task.json" </dev/null 2>"$scratch/task-err")
  client_state=
  for ((i = 0; i < 600; i++)); do
    client_state=$(task_t task inspect vmshop 2>/dev/null | grep -A6 '"name": "client"' |
      grep -o '"state": "[a-z]*"')
    [[ $client_state == '"state": "running"' || $client_state == '"state": "exited"' ]] && break
    sleep 0.2
  done
  vmms=0
  for pid in $(tandem_pids); do
    read -r -d '' arg0 2>/dev/null <"/proc/$pid/cmdline"
    [[ $arg0 == "$TANDEM_VMM" ]] && vmms=$((vmms + 1))
  done
  client_out=
  for ((i = 0; i < 300; i++)); do
    client_out=$(task_t logs vmshop-"${task_id:0:8}"-client 2>&1)
    [[ $client_out == *pid* ]] && break
    sleep 0.2
  done
  # stats reads web's cgroup in the guest: its 64 MiB limit, its memory and its processes.
  web_stats=$(task_t stats --no-stream --json vmshop-"${task_id:0:8}"-web 2>&1)
  task_t exec vmshop-"${task_id:0:8}"-client touch /tmp/done </dev/null
  exec_status=$?
  for ((i = 0; i < 300; i++)); do
    [[ $(task_t task ps -a 2>/dev/null) == *"stopped (3)"* ]] && break
    sleep 0.2
  done
  inspect=$(task_t task inspect vmshop 2>&1)
  setup_out=$(task_t logs vmshop-"${task_id:0:8}"-setup 2>&1)
  web_out=$(task_t logs vmshop-"${task_id:0:8}"-web 2>&1)
  leftover=$(tandem_pids)
  if [[ ${#task_id} == 64 && $vmms == 1 && $exec_status == 0 &&
    $web_stats == *'"memory_limit_bytes":67108864'* && $web_stats =~ \"memory_bytes\":[1-9] &&
    $web_stats =~ \"processes\":[2-9] && $client_out == "served
pid 1" && $setup_out == "pid 1
0::/
max" && $web_out == "67108864" && $inspect == *'"isolation": "vm"'* &&
    $inspect == *'"exit_code": 3,
  "family"'* && $inspect == *'"health": "healthy"'* && -z $leftover ]]; then
    ok "a 3-container task at VM level runs in one microVM, each container in its own namespaces and cgroup"
  else
    not_ok "a 3-container task at VM level runs in one microVM, each container in its own namespaces and cgroup" \
      "task id: $task_id $(cat "$scratch/task-err")" "tandem-vmm processes: $vmms" \
      "exec: $exec_status" "web's stats: $web_stats" "client: $client_out" "setup: $setup_out" \
      "web: $web_out" "leftover: $leftover" "$inspect" "$(cat "$task_state"/tasks/*.log)"
  fi
  task_t task rm -f vmshop >/dev/null 2>&1
fi

# A service at VM level (auto, for untrusted code): each of its tasks is a microVM of its own. It keeps 2 running (2
# tandem-vmm); a task stopped with tandem task stop is replaced by a new microVM; service rm
# stops them all and leaves no process behind.
if [[ -n ${GUEST_STORE:-} && -n ${TANDEM_PAUSE:-} ]]; then
  service_state=$scratch/service-state
  cp -a "$GUEST_STORE" "$service_state"
  cat >"$scratch/service.json" <<JSON
{"family": "vmsvc", "networkMode": "none",
 "containerDefinitions": [
  {"name": "idle", "image": "localhost/tandem/busybox",
   "command": ["sh", "-c", "trap 'exit 0' TERM; while sleep 0.2; do :; done"]}
 ]}
JSON
  svc_t() { bounded "$TANDEM" --state-root "$service_state" "$@"; }
  vmm_count() {
    local n=0 pid arg0
    for pid in $(tandem_pids); do
      read -r -d '' arg0 2>/dev/null <"/proc/$pid/cmdline"
      [[ $arg0 == "$TANDEM_VMM" ]] && n=$((n + 1))
    done
    echo "$n"
  }
  # service_running N [REPLACED]: waits until N tasks run (and REPLACED were replaced).
  service_running() {
    local i line
    for ((i = 0; i < 600; i++)); do
      line=$(svc_t service ls 2>/dev/null | grep ' vmsvc ')
      [[ $line =~ \ vm\ +[0-9]+\ +$1\ +running\ +${2:-0}$ ]] && return 0
      sleep 0.2
    done
    return 1
  }
  # members_answer: every running task's container answers tandem exec from inside its microVM.
  members_answer() {
    local i task member answered
    for ((i = 0; i < 300; i++)); do
      answered=0
      for task in $(svc_t task ps 2>/dev/null | awk '$2 == "vmsvc" { print $1 }'); do
        member=$(svc_t task inspect "$task" 2>/dev/null | grep name_of_workload | cut -d'"' -f4)
        [[ -n $member ]] && svc_t exec "$member" true </dev/null 2>/dev/null &&
          answered=$((answered + 1))
      done
      [[ $answered == "$1" ]] && return 0
      sleep 0.2
    done
    return 1
  }
  svc_t service create --trust untrusted --replicas 2 "$scratch/service.json" >/dev/null \
    2>"$scratch/service-err"
  service_running 2 && members_answer 2
  answered=$?
  first=$(vmm_count)
  victim=$(svc_t task ps 2>/dev/null | awk '$2 == "vmsvc" { print $1; exit }')
  svc_t task stop "$victim" >/dev/null 2>&1
  service_running 2 1 && members_answer 2
  replaced=$?
  second=$(vmm_count)
  svc_t service rm vmsvc >/dev/null 2>>"$scratch/service-err"
  removed=$?
  sleep 1
  leftover=$(tandem_pids)
  if [[ $answered == 0 && $first == 2 && $replaced == 0 && $second == 2 && $removed == 0 &&
    -z $leftover ]]; then
    ok "a service at VM level keeps 2 microVMs running, replaces a stopped one, and rm ends them"
  else
    not_ok "a service at VM level keeps 2 microVMs running, replaces a stopped one, and rm ends them" \
      "answered: $answered" "microVMs: $first, then $second" "replaced: $replaced" \
      "rm: $removed" \
      "leftover: $leftover" "$(svc_t service ls 2>&1)" "$(svc_t task ps -a 2>&1)" \
      "$(cat "$scratch/service-err" "$service_state"/services/*.log 2>/dev/null)" \
      "$(ls -la "$service_state" "$service_state"/services 2>&1)"
  fi
fi

vm --stats -- true
# The emulated host has busybox, not python: the JSON is checked field by field with grep.
stat() { grep -o "\"$1\": [0-9.]*" "$scratch/err" | head -n 1 | sed 's/.*: //'; }
total=$(stat total)
init_ms=$(stat guest_init)
started_ms=$(stat workload_started)
run_ms=$(stat first_kvm_run)
# The VMM's own memory, and beside it the supervising tandem's: two processes, two figures.
rss=$(sed -n '/"vmm_memory"/,/}/p' "$scratch/err" | grep -o '"rss_bytes": [0-9]*' | sed 's/.*: //')
supervisor_rss=$(sed -n '/"supervisor_memory"/,/}/p' "$scratch/err" |
  grep -o '"rss_bytes": [0-9]*' | sed 's/.*: //')
kvm_exits=$(stat exits)
# The guest's own count of its memory, from its init's exit report over vsock.
guest_total=$(sed -n '/"guest_memory"/,/}/p' "$scratch/err" | grep -o '"total_bytes": [0-9]*' |
  sed 's/.*: //')
if [[ $status == 0 && ${total:-0} -gt 0 && ${rss:-0} -gt 0 && ${supervisor_rss:-0} -gt 0 &&
  ${kvm_exits:-0} -ge ${total:-0} && ${guest_total:-0} -gt 0 ]] &&
  awk -v a="${run_ms:-0}" -v b="${init_ms:-0}" -v c="${started_ms:-0}" \
    'BEGIN { exit !(a > 0 && b > a && c > b) }'; then
  ok "--stats reports timings, exits ($total to the VMM, $kvm_exits in all), VMM and guest memory"
else
  not_ok "--stats reports timings, exits, VMM and guest memory" "status $status" "$err"
fi

if [[ -n $VMLINUX ]]; then
  vm --kernel "$VMLINUX" -- echo booted by PVH
  expect "an ELF vmlinux boots through its PVH entry" 0 "booted by PVH"
fi

# shellcheck source=oci_cases.sh
source "$(dirname "${BASH_SOURCE[0]}")/oci_cases.sh"

echo "1..$count"
exit $((failures > 0))

#!/usr/bin/env bash
# The microVM cases, as TAP. Runs where /dev/kvm works: on a KVM host directly, or inside the
# emulated KVM host (suite.sh decides). Each case boots a real guest with tandem's VMM.
set -uo pipefail

: "${TANDEM:?}" "${TANDEM_GUEST_KERNEL:?}" "${TANDEM_GUEST_INIT:?}" "${GUEST_ROOTFS:?}"
: "${KVM_DEVICE_TEST:?}"
VMLINUX=${TANDEM_GUEST_VMLINUX:-}

scratch=$(mktemp -d /tmp/tandem-vm.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

count=0
failures=0
# ok NAME / not_ok NAME DETAIL...: one TAP line per case, details as comments.
ok() {
  count=$((count + 1))
  echo "ok $count - $1"
}
not_ok() {
  count=$((count + 1))
  failures=$((failures + 1))
  echo "not ok $count - $1"
  shift
  printf '%s\n' "$@" | sed 's/^/# /'
}

# vm ARGS... -- COMMAND: one microVM run; stdout, stderr and status in $out, $err, $status.
vm() {
  "$TANDEM" run --isolation vm --rootfs "$GUEST_ROOTFS" "$@" >"$scratch/out" 2>"$scratch/err" \
    </dev/null
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

if "$KVM_DEVICE_TEST" >"$scratch/kvm-test" 2>&1; then
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

for code in 1 2 42 126 127 128 200 254 255; do
  vm -- sh -c "exit $code"
  expect "exit code $code" "$code" ""
done

vm -- sh -c 'kill -TERM $$'
expect "death by SIGTERM is 128+15" 143 ""
vm -- sh -c 'kill -KILL $$'
expect "death by SIGKILL is 128+9" 137 ""

"$TANDEM" run --isolation vm --rootfs "$GUEST_ROOTFS" -- cat <"$TANDEM_GUEST_INIT" \
  >"$scratch/copy" 2>"$scratch/err"
status=$?
if [[ $status == 0 ]] && cmp -s "$TANDEM_GUEST_INIT" "$scratch/copy"; then
  ok "binary stdin reaches the workload and comes back unchanged"
else
  not_ok "binary stdin reaches the workload and comes back unchanged" "status $status" \
    "$(cmp "$TANDEM_GUEST_INIT" "$scratch/copy" 2>&1)" "stderr: $(cat "$scratch/err")"
fi

out=$(printf 'line one\nline two\n' |
  "$TANDEM" run --isolation vm --rootfs "$GUEST_ROOTFS" -- sh -c 'read a; read b; echo "$b/$a"' \
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
leftover=$(pgrep -f "tandem run --isolation vm" || true)
if [[ $status == 125 && $err == *"timeout"* && -z $leftover && $((SECONDS - started)) -lt 60 ]]; then
  ok "a hung guest is stopped by --timeout"
else
  not_ok "a hung guest is stopped by --timeout" "status $status, $((SECONDS - started)) s" \
    "leftover: $leftover" "stderr: $err"
fi

vm --stats -- true
# The emulated host has busybox, not python: the JSON is checked field by field with grep.
stat() { grep -o "\"$1\": [0-9.]*" "$scratch/err" | head -n 1 | sed 's/.*: //'; }
total=$(stat total)
init_ms=$(stat guest_init)
run_ms=$(stat first_kvm_run)
rss=$(stat rss_bytes)
kvm_exits=$(stat exits)
if [[ $status == 0 && ${total:-0} -gt 0 && ${rss:-0} -gt 0 && ${kvm_exits:-0} -ge ${total:-0} ]] &&
  awk -v a="${run_ms:-0}" -v b="${init_ms:-0}" 'BEGIN { exit !(a > 0 && b > a) }'; then
  ok "--stats reports timings, exits ($total to the VMM, $kvm_exits in all) and VMM memory"
else
  not_ok "--stats reports timings, exits and VMM memory" "status $status" "$err"
fi

if [[ -n $VMLINUX ]]; then
  vm --kernel "$VMLINUX" -- echo booted by PVH
  expect "an ELF vmlinux boots through its PVH entry" 0 "booted by PVH"
fi

echo "1..$count"
exit $((failures > 0))

#!/bin/bash
# containerd (Debian's 1.6) with tandem-oci as the runc shim's binary (ctr run --runc-binary,
# as BinaryName does for CRI): run with the exit code back, run -d, task ps, task exec with
# stdout and stderr apart and its exit code, task kill, task rm, container rm. The test starts
# its own containerd on a private socket, with its root and state in the scratch folder.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
: "${TANDEM_OCI:?TANDEM_OCI must name the tandem-oci binary (meson sets it)}"
need_root "containerd runs containers as root"
need_tools containerd ctr containerd-shim-runc-v2

dir=$SCRATCH/containerd
mkdir -p "$dir"
cat >"$dir/config.toml" <<CONF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
CONF
containerd --config "$dir/config.toml" >"$dir/log" 2>&1 &
containerd_pid=$!
stop_containerd() {
  local id
  for id in $(c task ls -q 2>/dev/null); do
    c task kill -s KILL "$id" >/dev/null 2>&1 || true
    c task rm -f "$id" >/dev/null 2>&1 || true
  done
  for id in $(c containers ls -q 2>/dev/null); do c containers rm "$id" >/dev/null 2>&1 || true; done
  c images rm localhost/tandem/busybox:latest >/dev/null 2>&1 || true
  kill "$containerd_pid" 2>/dev/null || true
  wait "$containerd_pid" 2>/dev/null || true
  # The overlay snapshots of the scratch root, if any is still mounted.
  grep -o " $dir/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
}
at_exit stop_containerd
c() {
  timeout --kill-after=5 60 ctr --address "$dir/containerd.sock" -n tandem-test "$@"
}
deadline=$((SECONDS + 30))
until c version >/dev/null 2>&1; do
  ((SECONDS < deadline)) || fail "containerd did not start: $(tail -5 "$dir/log")"
  sleep 0.2
done

"$TANDEM" --state-root "$SCRATCH/tandem" run --rm --isolation container localhost/tandem/busybox true
"$TANDEM" --state-root "$SCRATCH/tandem" save -o "$SCRATCH/busybox.tar" localhost/tandem/busybox
c images import "$SCRATCH/busybox.tar" >/dev/null
image=localhost/tandem/busybox:latest
runtime=(--runc-binary "$TANDEM_OCI")

status=0
out=$(c run --rm "${runtime[@]}" "$image" "once-$MARKER" sh -c 'echo hello from containerd; exit 6' 2>"$SCRATCH/err") ||
  status=$?
err=$(<"$SCRATCH/err")
assert_status 6 "ctr run: the process's exit code"
assert_match 'hello from containerd' "$out" "ctr run: the process's output"

name=server-$MARKER
c run -d "${runtime[@]}" "$image" "$name" sh -c 'trap "exit 9" TERM; while :; do sleep 0.1; done' >/dev/null ||
  fail "ctr run -d failed"
assert_match "^$name +[0-9]+ +RUNNING" "$(c task ls | grep "$name")" "ctr task ls: the task runs"

status=0
out=$(c task exec --exec-id probe "$name" sh -c 'echo exec-out; echo exec-err >&2; exit 4' 2>"$SCRATCH/err") ||
  status=$?
err=$(<"$SCRATCH/err")
assert_status 4 "ctr task exec: the process's exit code"
assert_eq exec-out "$out" "ctr task exec: stdout"
assert_eq exec-err "$err" "ctr task exec: stderr"
[[ $(c task ps "$name" | tail -n +2 | wc -l) -ge 1 ]] || fail "ctr task ps lists no process"

c task kill "$name" || fail "ctr task kill failed"
deadline=$((SECONDS + 15))
until [[ $(c task ls | grep "$name") =~ STOPPED ]]; do
  ((SECONDS < deadline)) || fail "the task did not stop after SIGTERM"
  sleep 0.1
done
c task rm "$name" >/dev/null 2>&1 || fail "ctr task rm failed"
c containers rm "$name" || fail "ctr containers rm failed"
[[ -z $(find /sys/fs/cgroup -maxdepth 4 -name "$name" 2>/dev/null) ]] || fail "containerd and tandem-oci left the task's cgroup"
[[ ! -e /run/containerd/runc/tandem-test/$name ]] || fail "tandem-oci's state of the task is left"

echo "ok"

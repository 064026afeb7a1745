#!/bin/bash
# podman (Debian's 4.3) with tandem-oci as its OCI runtime (--runtime): run in the foreground
# with the exit code back, run -d, ps, exec with stdout and stderr apart and its exit code, logs,
# stop through SIGTERM, rm, and a terminal through conmon's console socket. podman keeps its
# storage and state in the test's scratch folder, and the image comes from tandem's own store.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
: "${TANDEM_OCI:?TANDEM_OCI must name the tandem-oci binary (meson sets it)}"
need_root "podman runs containers as root"
need_tools podman conmon jq

# podman passes tandem-oci no --root of its own (and its cleanup process passes none of a
# --runtime-flag), so tandem-oci keeps its state in its default root.
oci_root=/run/tandem-oci
# This host may not raise the hard rlimits podman asks of a root container (1048576 open files
# and processes) when it lacks CAP_SYS_RESOURCE, as runc could not either: ask for less.
cat >"$SCRATCH/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "tandem"
[engine.runtimes]
tandem = ["$TANDEM_OCI"]
CONF
export CONTAINERS_CONF=$SCRATCH/containers.conf
pm() {
  timeout --kill-after=5 60 podman --root "$SCRATCH/storage" --runroot "$SCRATCH/run" \
    --runtime "$TANDEM_OCI" "$@"
}
remove_podman_state() {
  pm rm -af -t 0 >/dev/null 2>&1 || true
  pm rmi -af >/dev/null 2>&1 || true
}
at_exit remove_podman_state

"$TANDEM" --state-root "$SCRATCH/tandem" run --rm --isolation container localhost/tandem/busybox true
"$TANDEM" --state-root "$SCRATCH/tandem" save -o "$SCRATCH/busybox.tar" localhost/tandem/busybox
pm load -i "$SCRATCH/busybox.tar" >/dev/null
image=localhost/tandem/busybox
opts=(--network none)

status=0
out=$(pm run --rm "${opts[@]}" "$image" sh -c "echo hello from podman; hostname; exit 5" 2>"$SCRATCH/err") || status=$?
err=$(<"$SCRATCH/err")
assert_status 5 "podman run: the process's exit code"
assert_match 'hello from podman' "$out" "podman run: the process's output"

id=$(pm run -d --name "server-$MARKER" "${opts[@]}" "$image" \
  sh -c 'echo started; trap "echo got-term; exit 0" TERM; while :; do sleep 0.1; done') ||
  fail "podman run -d failed"
[[ $(pm ps --format '{{.ID}} {{.Status}}') == "${id:0:12} Up"* ]] || fail "podman ps does not show the container up"
[[ -d $oci_root/$id ]] || fail "tandem-oci keeps no state for podman's container under $oci_root"

status=0
out=$(pm exec "server-$MARKER" sh -c 'echo exec-out; echo exec-err >&2; exit 3' 2>"$SCRATCH/err") || status=$?
err=$(<"$SCRATCH/err")
assert_status 3 "podman exec: the process's exit code"
assert_eq exec-out "$out" "podman exec: stdout"
assert_eq exec-err "$err" "podman exec: stderr"
assert_match 'uid=0' "$(pm exec "server-$MARKER" id)" "podman exec: the container's user"

pm stop -t 10 "server-$MARKER" >/dev/null || fail "podman stop failed"
assert_match 'Exited \(0\)' "$(pm ps -a --format '{{.Status}}' --filter "name=server-$MARKER")" \
  "podman stop: the process ended by its SIGTERM handler"
logs=$(pm logs "server-$MARKER")
assert_eq "started
got-term" "$logs" "podman logs"
pm rm "server-$MARKER" >/dev/null || fail "podman rm failed"
[[ ! -e $oci_root/$id ]] || fail "podman rm left tandem-oci's state of $id: $(ls -la "$oci_root/$id" 2>&1)"
[[ -z $(find /sys/fs/cgroup -maxdepth 4 -name "*$id*" 2>/dev/null) ]] || fail "podman rm left the cgroup of $id"

# -t: conmon hands tandem-oci a console socket, and the process runs on the pty.
out=$(pm run --rm -t "${opts[@]}" "$image" sh -c 'tty' </dev/null | tr -d '\r')
assert_match '^/dev/pts/[0-9]+$' "$out" "podman run -t: the process's terminal"

echo "ok"

#!/bin/bash
# --network container:NAME: a container joins a running container's network namespace, as a
# pod's containers share one: the same namespace, and the peer's server on the shared loopback.
# A peer that is missing, ended or a microVM is refused, and so is a microVM joining one.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
need_tools jq
make_rootfs
mkdir -p "$ROOTFS/www"
echo from-the-peer >"$ROOTFS/www/index.html"

t run -d --isolation container --rootfs "$ROOTFS" --name peer -- \
  sh -c 'readlink /proc/self/ns/net >/tmp/ns; exec httpd -f -p 8000 -h /www' </dev/null >/dev/null
status=0
t run --rm --isolation container --rootfs "$ROOTFS" --network container:peer -- sh -c '
  for i in $(seq 1 50); do wget -q -O - http://127.0.0.1:8000/ 2>/dev/null && break; sleep 0.1; done
  readlink /proc/self/ns/net' </dev/null >"$SCRATCH/out" 2>"$SCRATCH/err" || status=$?
out=$(<"$SCRATCH/out")
err=$(<"$SCRATCH/err")
assert_status 0 "a container joining the peer's network"
assert_eq from-the-peer "$(head -1 <<<"$out")" "the peer's server, on the shared loopback"
peer_id=$(t inspect peer | jq -r '.[0].id')
peer_ns=$(cat "$OWN_STATE/containers/$peer_id/upper/tmp/ns")
assert_eq "$peer_ns" "$(tail -1 <<<"$out")" "the joiner's network namespace"

refused() {  # WHAT ARGS...: a run that must be refused with exit 125 and a word on why
  local what=$1
  shift
  status=0
  t run --rootfs "$ROOTFS" "$@" -- true </dev/null >"$SCRATCH/out" 2>"$SCRATCH/err" || status=$?
  out=$(<"$SCRATCH/out")
  err=$(<"$SCRATCH/err")
  assert_runtime_error "$what"
}
refused "a missing peer" --network container:nosuch
[[ $err == *"--network container:nosuch: no workload"* ]] || fail "a missing peer: $err"
refused "a microVM joining a container's network" --isolation vm --network container:peer
[[ $err == *"a microVM cannot join a container's network namespace"* ]] || fail "vm: $err"
t stop -t 0 peer >/dev/null
refused "an ended peer" --network container:peer
[[ $err == *"that container is not running (exited)"* ]] || fail "an ended peer: $err"
t rm peer >/dev/null

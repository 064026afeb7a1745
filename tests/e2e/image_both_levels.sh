#!/bin/bash
# One image, both isolation levels: a two-layer image built by tandem-mkimage is pushed to
# Debian's docker-registry and pulled back into a fresh store; a second pull fetches no blob
# (the registry's own request log says so); the pulled image then runs in a container and in a
# microVM, and both print the same lines, made of the image's Cmd, Env, WorkingDir and a file
# of its upper layer. The microVM runs on /dev/kvm where it works (kvm_usable), else in the emulated KVM host.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
: "${MKIMAGE:?MKIMAGE must name tandem-mkimage (meson sets it)}"
: "${TANDEM_REGISTRY:?TANDEM_REGISTRY must name tandem-registry (meson sets it)}"
: "${TANDEM_GUEST_INIT:?TANDEM_GUEST_INIT must name tandem-guest-init (meson sets it)}"
: "${TANDEM_VMM:?TANDEM_VMM must name tandem-vmm (meson sets it)}"
: "${KVM_HOST:?KVM_HOST must name tandem-kvm-host (meson sets it)}"
need_root "tandem run --isolation container"
for tool in docker-registry python3; do
  command -v "$tool" >/dev/null || skip "needs $tool (scripts/deps.sh installs it)"
done
[[ -f ${TANDEM_GUEST_KERNEL:-} ]] ||
  skip "no guest kernel: set TANDEM_GUEST_KERNEL (scripts/test.sh builds one)"
kvm_direct=0
if kvm_usable; then
  kvm_direct=1
elif ! command -v qemu-system-x86_64 >/dev/null; then
  skip "no usable /dev/kvm here and no qemu-system-x86_64 for the emulated KVM host"
fi
export TANDEM_REGISTRY_CLIENT=$TANDEM_REGISTRY

# shellcheck source=registry_lib.sh
source "$(dirname "$0")/registry_lib.sh"
port=$(free_port)
REGISTRY_LOG_LEVEL=info start_registry plain "$port"
registry_log=$SCRATCH/plain.log

# tandem_in STORE ARGS...: sets status, out (stdout) and err (stderr).
tandem_in() {
  local store=$1
  shift
  status=0
  timeout --kill-after=5 120 "$TANDEM" --state-root "$store" "$@" </dev/null >"$SCRATCH/out" \
    2>"$SCRATCH/err" || status=$?
  out=$(<"$SCRATCH/out")
  err=$(<"$SCRATCH/err")
}

# Blob downloads the registry has logged so far.
blob_fetches() {
  grep -c 'http.request.method=GET .*http.request.uri="/v2/[^"]*/blobs/' "$registry_log" || true
}

# Base layer: a busybox rootfs; upper layer: the file the command prints.
"$MKROOTFS" "$SCRATCH/base" >/dev/null
mkdir -p "$SCRATCH/upper/srv"
echo "from the upper layer" >"$SCRATCH/upper/srv/message"
"$MKIMAGE" --output "$SCRATCH/layout" --tag both:1 --workdir /srv --env GREETING=hello \
  --env PATH=/bin:/sbin:/usr/bin --cmd sh --cmd -c \
  --cmd 'cat message; echo "$GREETING from $(pwd)"; id -u' "$SCRATCH/base" "$SCRATCH/upper" >/dev/null ||
  fail "tandem-mkimage could not build the image"

ref=127.0.0.1:$port/tandem/both:1
builder=$SCRATCH/store-built
tandem_in "$builder" load -i "$SCRATCH/layout" -t "$ref"
assert_eq 0 "$status" "load of the tandem-mkimage layout: $err"
tandem_in "$builder" push "$ref"
assert_eq 0 "$status" "push: $err"

store=$SCRATCH/store-pulled
tandem_in "$store" pull "$ref"
assert_eq 0 "$status" "pull: $err"
assert_match "Downloaded newer image for $ref" "$out" "the first pull downloads"
fetched=$(blob_fetches)
# Two layers and the config.
((fetched >= 3)) || fail "the first pull fetched $fetched blobs, the image has 3"
tandem_in "$store" pull "$ref"
assert_eq 0 "$status" "second pull: $err"
assert_match "Image is up to date for $ref" "$out" "the second pull says it had everything"
assert_eq "$fetched" "$(blob_fetches)" "blob downloads after a second pull"

want=$'from the upper layer\nhello from /srv\n0'
tandem_in "$store" run --rm --isolation container "$ref"
assert_eq 0 "$status" "run in a container: $err"
assert_eq "$want" "$out" "the container's output"

# The microVM boots from the image's ext4 disk, made here: the emulated host has no mkfs.ext4.
tandem_in "$store" image disk "$ref"
assert_eq 0 "$status" "image disk: $err"
vm_command=("$TANDEM" --state-root "$store" run --isolation vm "$ref")
status=0
if ((kvm_direct)); then
  timeout --kill-after=5 300 "${vm_command[@]}" </dev/null >"$SCRATCH/out" 2>"$SCRATCH/err" ||
    status=$?
else
  "$KVM_HOST" --cpus 1 --timeout 600 --include "$TANDEM" --include "$TANDEM_GUEST_INIT" \
    --include "$TANDEM_VMM" --include "$TANDEM_GUEST_KERNEL" --include "$store" \
    --env "TANDEM_GUEST_INIT=$TANDEM_GUEST_INIT" --env "TANDEM_VMM=$TANDEM_VMM" --env "TANDEM_GUEST_KERNEL=$TANDEM_GUEST_KERNEL" \
    -- "${vm_command[@]}" </dev/null >"$SCRATCH/out" 2>"$SCRATCH/err" || status=$?
fi
out=$(<"$SCRATCH/out")
err=$(<"$SCRATCH/err")
assert_eq 0 "$status" "run in a microVM: $err"
assert_eq "$want" "$out" "the microVM's output, the same as the container's"

#!/bin/bash
# tandem push and tandem pull through Debian's docker-registry: an image loaded into one store
# and pushed comes back into a fresh store with the same id and runs the same; a second pull
# transfers nothing, a second push uploads nothing, a push to another repository mounts the
# blobs; tandem run pulls a missing image unless told --pull never; and the progress is redrawn
# in place on a terminal but written as plain lines to a file.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
: "${TANDEM_REGISTRY:?TANDEM_REGISTRY must name tandem-registry (meson sets it)}"
need_root "tandem run --isolation container"
for tool in docker-registry python3 busybox script; do
  command -v "$tool" >/dev/null || skip "needs $tool (scripts/deps.sh installs it)"
done
# The tandem under test must use the tandem-registry under test.
export TANDEM_REGISTRY_CLIENT=$TANDEM_REGISTRY

# shellcheck source=registry_lib.sh
source "$(dirname "$0")/registry_lib.sh"

port=$(free_port)
start_registry plain "$port"

# tandem_in STORE ARGS...: runs tandem on STORE; sets status, out (stdout) and err (stderr).
tandem_in() {
  local store=$1
  shift
  status=0
  timeout --kill-after=5 90 "$TANDEM" --state-root "$store" "$@" >"$SCRATCH/out" 2>"$SCRATCH/err" ||
    status=$?
  out=$(<"$SCRATCH/out")
  err=$(<"$SCRATCH/err")
}

# Two layers: busybox alone, then a shell link and a file the image's command prints.
mkdir -p "$SCRATCH/layer1/bin" "$SCRATCH/layer2/bin" "$SCRATCH/layer2/etc"
cp "$(command -v busybox)" "$SCRATCH/layer1/bin/busybox"
ln -s busybox "$SCRATCH/layer2/bin/sh"
echo "hello from layer 2" >"$SCRATCH/layer2/etc/motd"
python3 "$(dirname "$0")/oci_layout.py" "$SCRATCH/oci" '["/bin/busybox", "cat", "/etc/motd"]' \
  "$SCRATCH/layer1" "$SCRATCH/layer2"

ref=127.0.0.1:$port/test/app:1.0
first=$SCRATCH/store1
tandem_in "$first" load -i "$SCRATCH/oci"
assert_eq 0 "$status" "load: $err"
tandem_in "$first" images -q --no-trunc
id=$out
[[ $id == sha256:* ]] || fail "tandem images printed no id: $out"

tandem_in "$first" push "$ref"
[[ $status != 0 ]] || fail "pushing an untagged image by a tag nobody gave it succeeded"
assert_match "tandem tag" "$err" "an untagged push says how to name the image"

tandem_in "$first" tag "$id" "$ref"
assert_eq 0 "$status" "tag: $err"
tandem_in "$first" push "$ref"
assert_eq 0 "$status" "push: $err"
assert_match "The push refers to repository \[127.0.0.1:$port/test/app\]" "$out" \
  "push names the repository"
assert_match "1.0: digest: sha256:" "$out" "push prints the digest"
assert_match "Pushed" "$err" "plain push progress"

tandem_in "$first" push "$ref"
assert_eq 0 "$status" "second push: $err"
assert_match "Layer already exists" "$err" "a second push uploads nothing"

tandem_in "$first" push "$ref" "127.0.0.1:$port/other/app:2.0"
assert_eq 0 "$status" "push to another repository: $err"
assert_match "Mounted from test/app" "$err" "blobs are mounted from the repository they came from"

second=$SCRATCH/store2
tandem_in "$second" pull "$ref"
assert_eq 0 "$status" "pull: $err"
assert_match "Status: Downloaded newer image for $ref" "$out" "first pull"
assert_match "Digest: sha256:" "$out" "pull prints the digest"
assert_eq "$ref" "$(tail -1 <<<"$out")" "pull ends with the reference"
tandem_in "$second" images -q --no-trunc
assert_eq "$id" "$out" "the pulled image has the pushed image's id"

tandem_in "$second" pull "$ref"
assert_eq 0 "$status" "second pull: $err"
assert_match "Status: Image is up to date for $ref" "$out" "a second pull transfers nothing"

tandem_in "$first" run --rm --isolation container "$ref"
assert_eq 0 "$status" "run from the first store: $err"
from_first=$out
assert_eq "hello from layer 2" "$from_first" "the image's command"
tandem_in "$second" run --rm --isolation container "$ref"
assert_eq 0 "$status" "run from the second store: $err"
assert_eq "$from_first" "$out" "the pulled image runs as the pushed one"

third=$SCRATCH/store3
tandem_in "$third" run --rm --pull never --isolation container "$ref"
assert_eq 125 "$status" "run --pull never of a missing image"
assert_match "--pull never" "$err" "the failure says the policy forbade the pull"
assert_match "no image" "$err" "the failure says the image is missing"
tandem_in "$third" run --rm --isolation container "$ref"
assert_eq 0 "$status" "run pulls a missing image: $err"
assert_eq "$from_first" "$out" "the run's stdout is the workload's alone"
assert_match "Unable to find image" "$err" "the run says it pulls"
assert_match "Downloaded newer image" "$err" "the pull's summary goes to stderr"

tandem_in "$SCRATCH/store-bad" pull "127.0.0.1:$port/test/missing:1.0"
assert_eq 125 "$status" "pulling an image the registry lacks"
assert_match "tandem-registry: .*HTTP 404" "$err" "the failure shows tandem-registry's message"

# Progress: redrawn in place under a terminal (script gives tandem a pty), plain lines in a file.
script -qfec "$TANDEM --state-root $SCRATCH/store-tty pull $ref" /dev/null >"$SCRATCH/tty" ||
  fail "pull under a pty failed: $(cat -v "$SCRATCH/tty")"
grep -q $'\e\\[2K' "$SCRATCH/tty" || fail "no line-clearing escape on a terminal: $(cat -v "$SCRATCH/tty")"
grep -qE $'\e\\[[0-9]+A' "$SCRATCH/tty" ||
  fail "no cursor movement on a terminal: $(cat -v "$SCRATCH/tty")"
grep -q "Downloading \[[=> ]*\]" "$SCRATCH/tty" ||
  fail "no progress bar on a terminal: $(cat -v "$SCRATCH/tty")"
tandem_in "$SCRATCH/store-file" pull "$ref"
assert_eq 0 "$status" "pull with stderr in a file: $err"
if grep -q $'\e' "$SCRATCH/err"; then
  fail "escape sequences in a file: $(cat -v "$SCRATCH/err")"
fi
assert_eq 3 "$(grep -c "Pull complete" "$SCRATCH/err")" "one plain line per completed blob"

# Token authentication in front of an empty registry: the push must ask for a token with push
# scope (a HEAD's challenge names pull alone) and follow the relative upload Locations.
backend_port=$(free_port)
start_registry behind-proxy "$backend_port"
proxy_port=$(free_port)
python3 "$(dirname "$0")/registry_auth_proxy.py" "$proxy_port" "$(free_port)" \
  "http://127.0.0.1:$backend_port" tester:s3cret "$SCRATCH/proxy.log" &
at_exit kill "$!"
until_true 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$proxy_port" 2>/dev/null ||
  fail "the token proxy did not start"
mkdir -p "$SCRATCH/no-docker-config"
DOCKER_CONFIG=$SCRATCH/no-docker-config tandem_in "$first" push "$ref" \
  "127.0.0.1:$proxy_port/test/app:1.0"
assert_eq 125 "$status" "a push without credentials"
assert_match "--creds" "$err" "a refused push says how to log in"
tandem_in "$first" push --creds tester:s3cret "$ref" "127.0.0.1:$proxy_port/test/app:1.0"
assert_eq 0 "$status" "push through token authentication: $err"
grep -q "push token issued" "$SCRATCH/proxy.log" || fail "no token with push scope was asked for"
assert_eq 3 "$(grep -c "Pushed" <<<"$err")" "every blob is uploaded through the proxy"
tandem_in "$SCRATCH/store-proxy" pull "127.0.0.1:$backend_port/test/app:1.0"
assert_eq 0 "$status" "pull of what went through the proxy: $err"
tandem_in "$SCRATCH/store-proxy" images -q --no-trunc
assert_eq "$id" "$out" "the image pushed through the proxy keeps its id"
# tandem run pulls with the registry options of tandem pull.
DOCKER_CONFIG=$SCRATCH/no-docker-config tandem_in "$SCRATCH/store-run-creds" run --rm \
  --isolation container "127.0.0.1:$proxy_port/test/app:1.0"
assert_eq 125 "$status" "a run whose pull has no credentials"
DOCKER_CONFIG=$SCRATCH/no-docker-config tandem_in "$SCRATCH/store-run-creds" run --rm \
  --isolation container --creds tester:s3cret "127.0.0.1:$proxy_port/test/app:1.0"
assert_eq 0 "$status" "tandem run --creds through token authentication: $err"
assert_eq "$from_first" "$out" "the image tandem run pulled with --creds"
tandem_in "$SCRATCH/store-run-platform" run --rm --isolation container --platform linux/s390x \
  "$ref"
assert_eq 125 "$status" "a run whose --platform the single-platform image does not serve"
assert_match "for linux/amd64 only, not linux/s390x" "$err" "the refusal names both platforms"
tandem_in "$SCRATCH/store-run-platform" images -q
assert_eq "" "$out" "images after a refused platform"
tandem_in "$SCRATCH/store-run-platform" run --rm --isolation container --platform linux/amd64 \
  "$ref"
assert_eq 0 "$status" "a run whose --platform the image serves: $err"

# An interrupted pull: a storage port that stalls half way through the first download of each
# large blob, and tandem pull killed (SIGKILL) there. Its transfer must stop with it and leave
# no image registered; the next pull resumes from the partial blob and registers the image.
stall_port=$(free_port)
python3 "$(dirname "$0")/registry_auth_proxy.py" "$stall_port" "$(free_port)" \
  "http://127.0.0.1:$port" tester:s3cret "$SCRATCH/stall.log" stall &
at_exit kill "$!"
until_true 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$stall_port" 2>/dev/null ||
  fail "the stalling proxy did not start"
interrupted=$SCRATCH/store-interrupted
stall_ref=127.0.0.1:$stall_port/test/app:1.0
"$TANDEM" --state-root "$interrupted" pull --creds tester:s3cret "$stall_ref" </dev/null \
  >"$SCRATCH/interrupted.log" 2>&1 &
pull_pid=$!
partial_written() {
  grep -q "stalled a transfer" "$SCRATCH/stall.log" 2>/dev/null &&
    [[ -n $(find "$interrupted/ingest" -name '*.partial' -size +0 2>/dev/null) ]]
}
until_true 60 partial_written ||
  fail "no partial blob while the transfer stalled: $(cat "$SCRATCH/interrupted.log")"
kill -KILL "$pull_pid"
wait "$pull_pid" || true
transfers_gone() {
  [[ -z $(processes_matching "--store $interrupted") ]]
}
until_true 10 transfers_gone ||
  fail "tandem-registry went on after tandem pull was killed: $(processes_matching "$interrupted")"
tandem_in "$interrupted" images -q
assert_eq "" "$out" "images after a killed pull"
tandem_in "$interrupted" pull --creds tester:s3cret "$stall_ref"
assert_eq 0 "$status" "the pull after the killed one: $err"
assert_match "resuming at [1-9][0-9]* bytes" "$err" "the second pull resumes the partial blob"
assert_match "Downloaded newer image for $stall_ref" "$out" "the resumed pull completes"
tandem_in "$interrupted" images -q --no-trunc
assert_eq "$id" "$out" "the resumed pull registers the pushed image"

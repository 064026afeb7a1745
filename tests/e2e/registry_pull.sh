#!/bin/bash
# tandem-registry pulls a two-layer image from Debian's docker-registry into a fresh store over
# plain HTTP, through a token-authenticating front, and over HTTPS with a private CA and basic
# authentication: the blobs land verified, a second pull transfers nothing, a truncated partial
# resumes with a Range request, the token never follows a redirect to another host, and an
# untrusted certificate fails with a message that says what to do.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
: "${TANDEM_REGISTRY:?TANDEM_REGISTRY must name tandem-registry (meson sets it)}"
for tool in docker-registry skopeo umoci openssl python3 sha256sum busybox; do
  command -v "$tool" >/dev/null || skip "needs $tool (scripts/deps.sh installs it)"
done

# shellcheck source=registry_lib.sh
source "$(dirname "$0")/registry_lib.sh"

# pull ARGS...: runs tandem-registry pull; sets status, out (stdout) and err (stderr).
pull() {
  status=0
  timeout --kill-after=5 60 "$TANDEM_REGISTRY" pull "$@" >"$SCRATCH/out" 2>"$SCRATCH/err" ||
    status=$?
  out=$(<"$SCRATCH/out")
  err=$(<"$SCRATCH/err")
}

json() {
  python3 -c 'import json, sys; print(eval(sys.argv[1], {"j": json.loads(sys.stdin.read())}))' "$1" <<<"$out"
}

port=$(free_port)
start_registry plain "$port"

# Two layers: busybox alone, then a shell link and a file.
busybox_bin=$(command -v busybox)
mkdir -p "$SCRATCH/layer2/bin" "$SCRATCH/layer2/etc"
ln -s busybox "$SCRATCH/layer2/bin/sh"
echo "hello from layer 2" >"$SCRATCH/layer2/etc/motd"
umoci init --layout "$SCRATCH/oci"
umoci new --image "$SCRATCH/oci:app"
umoci insert --image "$SCRATCH/oci:app" "$busybox_bin" /bin/busybox
umoci insert --image "$SCRATCH/oci:app" "$SCRATCH/layer2" /
skopeo copy --quiet --dest-tls-verify=false "oci:$SCRATCH/oci:app" \
  "docker://127.0.0.1:$port/test/app:1.0" >&2

store=$SCRATCH/store
pull --store "$store" "127.0.0.1:$port/test/app:1.0"
assert_eq 0 "$status" "first pull: $err"
assert_eq "127.0.0.1:$port/test/app:1.0" "$(json 'j["reference"]')" "the normalised reference"
assert_eq 2 "$(json 'len(j["layers"])')" "layers in the JSON"
assert_eq None "$(json 'j["indexDigest"]')" "a single-platform image has no index"
assert_eq 0 "$(json 'j["blobsReused"]')" "nothing is reused in an empty store"
for i in 0 1; do
  digest=$(json "j[\"layers\"][$i][\"digest\"]")
  blob=$store/blobs/sha256/${digest#sha256:}
  [[ -f $blob ]] || fail "layer $digest is not in the store"
  assert_eq "${digest#sha256:}" "$(sha256sum "$blob" | cut -d' ' -f1)" "layer $i's content"
  assert_eq "$(json "j[\"layers\"][$i][\"size\"]")" "$(stat -c %s "$blob")" "layer $i's size"
done
config=$(json 'j["configDigest"]')
[[ -f $store/blobs/sha256/${config#sha256:} ]] || fail "the config is not in the store"
manifest=$(json 'j["manifestDigest"]')
[[ -f $store/blobs/sha256/${manifest#sha256:} ]] || fail "the manifest is not in the store"
assert_match "Pull complete" "$err" "plain progress on a non-terminal stderr"

pull --store "$store" "127.0.0.1:$port/test/app:1.0"
assert_eq 0 "$status" "second pull: $err"
assert_eq 0 "$(json 'j["bytesTransferred"]')" "a second pull transfers no blob bytes"
assert_eq 3 "$(json 'j["blobsReused"]')" "a second pull reuses the config and both layers"
assert_match "Already exists" "$err" "reused blobs are reported"

# Resume: the bigger layer back into a half-written partial.
big=$(json 'max(j["layers"], key=lambda l: l["size"])["digest"]')
big_hex=${big#sha256:}
big_size=$(stat -c %s "$store/blobs/sha256/$big_hex")
mv "$store/blobs/sha256/$big_hex" "$store/ingest/$big_hex.partial"
truncate -s $((big_size / 2)) "$store/ingest/$big_hex.partial"
pull --store "$store" "127.0.0.1:$port/test/app:1.0"
assert_eq 0 "$status" "resumed pull: $err"
assert_match "resuming at $((big_size / 2)) bytes" "$err" "the pull says it resumed"
transferred=$(json 'j["bytesTransferred"]')
((transferred < big_size)) || fail "resumed pull transferred $transferred bytes, the layer has $big_size"
assert_eq "$big_hex" "$(sha256sum "$store/blobs/sha256/$big_hex" | cut -d' ' -f1)" "resumed layer"

# By digest, and registered in the index.
pull --store "$SCRATCH/store-pinned" --register "127.0.0.1:$port/test/app@$manifest"
assert_eq 0 "$status" "pull by digest: $err"
assert_eq "$manifest" "$(json 'j["manifestDigest"]')" "the pinned manifest"
[[ -f $SCRATCH/store-pinned/index.db ]] || fail "--register wrote no index.db"

# A digest the registry does not hold.
pull --store "$SCRATCH/store-bad" "127.0.0.1:$port/test/app@sha256:$(printf '0%.0s' {1..64})"
[[ $status != 0 ]] || fail "a pull by an unknown digest succeeded"
assert_match "HTTP 404" "$err" "an unknown digest names the registry's answer"

# Token authentication in front of the same registry, with blobs redirected to a storage port
# that refuses requests carrying an Authorization header.
proxy_port=$(free_port)
storage_port=$(free_port)
python3 "$(dirname "$0")/registry_auth_proxy.py" "$proxy_port" "$storage_port" \
  "http://127.0.0.1:$port" tester:s3cret "$SCRATCH/proxy.log" &
at_exit kill "$!"
until_true 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$proxy_port" 2>/dev/null ||
  fail "the token proxy did not start"
mkdir -p "$SCRATCH/no-docker-config"
DOCKER_CONFIG=$SCRATCH/no-docker-config pull --store "$SCRATCH/store-auth" \
  "127.0.0.1:$proxy_port/test/app:1.0"
[[ $status != 0 ]] || fail "a pull without credentials got past the token server"
assert_match "--creds" "$err" "a refused token request says how to log in"
pull --store "$SCRATCH/store-auth" --creds tester:s3cret "127.0.0.1:$proxy_port/test/app:1.0"
assert_eq 0 "$status" "pull with a bearer token: $err"
assert_eq 2 "$(json 'len(j["layers"])')" "layers through the token proxy"
assert_eq 1 "$(grep -c "token issued" "$SCRATCH/proxy.log")" "one token serves the whole pull"
if grep -q "storage got an Authorization header" "$SCRATCH/proxy.log"; then
  fail "the registry's token was sent across the blob redirect"
fi
mkdir -p "$SCRATCH/docker-config"
printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}' "$proxy_port" \
  "$(printf tester:s3cret | base64)" >"$SCRATCH/docker-config/config.json"
DOCKER_CONFIG=$SCRATCH/docker-config pull --store "$SCRATCH/store-auth2" \
  "127.0.0.1:$proxy_port/test/app:1.0"
assert_eq 0 "$status" "pull with credentials from DOCKER_CONFIG: $err"

# A storage port that breaks the first download of each blob half way: the pull retries and
# resumes where the partial ends.
flaky_port=$(free_port)
flaky_storage_port=$(free_port)
python3 "$(dirname "$0")/registry_auth_proxy.py" "$flaky_port" "$flaky_storage_port" \
  "http://127.0.0.1:$port" tester:s3cret "$SCRATCH/flaky.log" flaky &
at_exit kill "$!"
until_true 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$flaky_port" 2>/dev/null ||
  fail "the flaky proxy did not start"
pull --store "$SCRATCH/store-flaky" --creds tester:s3cret "127.0.0.1:$flaky_port/test/app:1.0"
assert_eq 0 "$status" "pull through broken transfers: $err"
grep -q "cut a transfer" "$SCRATCH/flaky.log" || fail "the flaky proxy never broke a transfer"
assert_match "retrying, attempt 2" "$err" "a broken transfer is retried"
assert_match "resuming at [1-9][0-9]* bytes" "$err" "the retry resumes"
for i in 0 1; do
  digest=$(json "j[\"layers\"][$i][\"digest\"]")
  assert_eq "${digest#sha256:}" "$(sha256sum "$SCRATCH/store-flaky/blobs/sha256/${digest#sha256:}" |
    cut -d' ' -f1)" "layer $i after a broken transfer"
done

# HTTPS with a private certificate for 127.0.0.1, and basic authentication.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext "subjectAltName=IP:127.0.0.1" \
  -keyout "$SCRATCH/tls.key" -out "$SCRATCH/tls.crt" 2>/dev/null
tls_port=$(free_port)
python3 -W ignore -c 'import crypt; print("tester:" + crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH)))' \
  >"$SCRATCH/htpasswd"
start_registry tls "$tls_port" "  tls:
    certificate: $SCRATCH/tls.crt
    key: $SCRATCH/tls.key
auth:
  htpasswd:
    realm: test-realm
    path: $SCRATCH/htpasswd"
skopeo copy --quiet --dest-tls-verify=false --dest-creds tester:s3cret \
  "oci:$SCRATCH/oci:app" "docker://127.0.0.1:$tls_port/test/app:1.0" >&2

pull --store "$SCRATCH/store-tls" "127.0.0.1:$tls_port/test/app:1.0"
[[ $status != 0 ]] || fail "a pull from an untrusted certificate succeeded"
assert_match "TLS" "$err" "the failure names TLS"
assert_match "--ca-cert" "$err" "the failure says how to trust the registry"
[[ ! -e $SCRATCH/store-tls/index.db ]] || fail "a failed pull registered something"

DOCKER_CONFIG=$SCRATCH/no-docker-config pull --store "$SCRATCH/store-tls" \
  --ca-cert "$SCRATCH/tls.crt" "127.0.0.1:$tls_port/test/app:1.0"
[[ $status != 0 ]] || fail "a pull without credentials got past basic authentication"
assert_match "--creds" "$err" "a basic challenge without credentials says how to log in"

pull --store "$SCRATCH/store-tls" --ca-cert "$SCRATCH/tls.crt" --creds tester:s3cret \
  "127.0.0.1:$tls_port/test/app:1.0"
assert_eq 0 "$status" "pull over HTTPS with --ca-cert: $err"
assert_eq 2 "$(json 'len(j["layers"])')" "layers over HTTPS"

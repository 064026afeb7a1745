# shellcheck shell=bash
# For the tandem-oci tests: bundles made from the test rootfs and tandem-oci's own default spec,
# and runs of tandem-oci against a root of the test's own. Sourced after lib.sh.

: "${TANDEM_OCI:?TANDEM_OCI must name the tandem-oci binary (meson sets it)}"

OCI_ROOT=$SCRATCH/oci-root

# make_bundle NAME JQ_FILTER: a bundle at $SCRATCH/NAME whose config.json is `tandem-oci spec`'s
# default, without a terminal, edited by JQ_FILTER; its root is the test rootfs.
make_bundle() {
  local dir=$SCRATCH/$1
  mkdir -p "$dir"
  "$TANDEM_OCI" spec --bundle "$dir"
  jq ".root.path = \"$ROOTFS\" | .process.terminal = false | $2" "$dir/config.json" >"$dir/config.new"
  mv "$dir/config.new" "$dir/config.json"
}

# oci ARGS...: tandem-oci on the test's root, bounded; stdout is printed, stderr kept in
# $SCRATCH/oci.err for the assertions.
oci() {
  timeout --kill-after=5 30 "$TANDEM_OCI" --root "$OCI_ROOT" "$@" 2>"$SCRATCH/oci.err" </dev/null
}

# oci_run ARGS...: the same, with stdout kept in $SCRATCH/oci.out too.
oci_run() {
  timeout --kill-after=5 30 "$TANDEM_OCI" --root "$OCI_ROOT" "$@" \
    >"$SCRATCH/oci.out" 2>"$SCRATCH/oci.err" </dev/null
}

# Every container left under the test's root is deleted when the test ends, however it ends.
_delete_oci_containers() {
  local id
  for id in $("$TANDEM_OCI" --root "$OCI_ROOT" list --quiet 2>/dev/null); do
    "$TANDEM_OCI" --root "$OCI_ROOT" delete --force "$id" 2>/dev/null || true
  done
}
at_exit _delete_oci_containers

wait_for_file() {  # PATH SECONDS
  local deadline=$((SECONDS + $2))
  until [[ -e $1 ]]; do
    ((SECONDS < deadline)) || fail "$1 did not appear within $2s"
    sleep 0.05
  done
}

wait_for_status() {  # ID STATUS SECONDS
  local deadline=$((SECONDS + $3))
  until [[ $(oci state "$1" | jq -r .status) == "$2" ]]; do
    ((SECONDS < deadline)) || fail "container $1 did not become $2 within $3s"
    sleep 0.05
  done
}

wait_gone() {  # PID SECONDS
  local deadline=$((SECONDS + $2)) stat
  while read -r stat 2>/dev/null <"/proc/$1/stat" && [[ ${stat##*) } != Z* ]]; do
    ((SECONDS < deadline)) || fail "process $1 still runs after $2s"
    sleep 0.05
  done
}

# The host directories of container ID's cgroup, from its recorded path.
cgroup_directories_of() {
  local path
  path=$(jq -r .cgroupPath "$OCI_ROOT/$1/state.json")
  find /sys/fs/cgroup -maxdepth 3 -type d -path "*/$path" 2>/dev/null
}

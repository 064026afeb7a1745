#!/bin/bash
# Startup cost of one container run, tandem against runc and bubblewrap: the same busybox rootfs,
# the same /bin/true, the same limits where the tool has them. Prints a markdown table and writes
# the figures, with hyperfine's raw export, as JSON. Not part of the test suite: it measures, it
# does not check.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
readonly repo
runs=30
json=startup.json
tandem=${TANDEM:-$repo/build/tools/tandem}
tandem_oci=${TANDEM_OCI:-$repo/build/tools/oci/tandem-oci}
runtimes=tandem,tandem-oci,runc,bwrap
readonly rss_samples=5

usage() {
  cat >&2 <<EOF
usage: $0 [--runs N] [--json FILE] [--tandem PATH] [--runtimes LIST]
  --runs N          timed runs per runtime after 3 warmups (default $runs)
  --json FILE       where the JSON goes (default $json)
  --tandem PATH     the tandem binary (default \$TANDEM, else $repo/build/tools/tandem)
  --runtimes LIST   comma-separated subset of tandem,tandem-oci,runc,bwrap (default all)
EOF
  exit 2
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; runs=$2; shift 2 ;;
    --json) [[ -n ${2:-} ]] || usage; json=$2; shift 2 ;;
    --tandem) [[ -n ${2:-} ]] || usage; tandem=$2; shift 2 ;;
    --runtimes) [[ ${2:-} =~ ^(tandem|tandem-oci|runc|bwrap)(,(tandem|tandem-oci|runc|bwrap))*$ ]] || usage; runtimes=$2; shift 2 ;;
    *) usage ;;
  esac
done

[[ $EUID -eq 0 ]] || { echo "$0: needs root (runc and tandem create cgroups)" >&2; exit 1; }

# command -> Debian package, for whatever is missing.
declare -A packages=([hyperfine]=hyperfine [runc]=runc [bwrap]=bubblewrap [jq]=jq
  [/usr/bin/time]=time [/bin/busybox]=busybox-static)
missing=()
for cmd in "${!packages[@]}"; do
  command -v "$cmd" >/dev/null || missing+=("${packages[$cmd]}")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "installing: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

has() { [[ ,$runtimes, == *,$1,* ]]; }
if has tandem && [[ ! -x $tandem ]]; then
  echo "$0: no tandem binary at $tandem (build it, or pass --tandem)" >&2
  exit 1
fi
if has tandem-oci && [[ ! -x $tandem_oci ]]; then
  echo "$0: no tandem-oci binary at $tandem_oci (build it, or set TANDEM_OCI)" >&2
  exit 1
fi

work=$(mktemp -d /tmp/tandem-bench.XXXXXX)
readonly rootfs=$work/rootfs bundle=$work/bundle runc_state=$work/runc-state
readonly oci_state=$work/tandem-oci-state
readonly runc_id=tandem-bench
cleanup() {
  runc --root "$runc_state" delete -f "$runc_id" >/dev/null 2>&1 || true
  [[ ! -x $tandem_oci ]] || "$tandem_oci" --root "$oci_state" delete -f "$runc_id" >/dev/null 2>&1 || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

"$repo/tools/mkrootfs/tandem-mkrootfs-busybox" "$rootfs"

# The runc bundle mirrors the tandem command line: a writable root (no --read-only), 64 MiB of
# memory, one CPU of quota, 100 pids, and runc's default namespaces, which include an empty
# network namespace like --network none.
mkdir -p "$bundle" "$runc_state"
runc spec --bundle "$bundle"
jq --arg root "$rootfs" '
  .root = {path: $root, readonly: false}
  | .process.args = ["/bin/true"]
  | .process.terminal = false
  | .linux.resources.memory = {limit: 67108864}
  | .linux.resources.cpu = {quota: 100000, period: 100000}
  | .linux.resources.pids = {limit: 100}
' "$bundle/config.json" >"$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"

declare -A commands
commands[tandem]=$(printf '%q ' "$tandem" run --isolation container --rootfs "$rootfs" \
  --memory 64M --cpus 1 --pids-limit 100 --network none --rm -- /bin/true)
# runc run without -d is already create, start, wait and delete in one process (--keep would opt
# out of the delete), so it does the same work as tandem run --rm; the fixed ID is free again when
# each run ends, and a run that failed to clean up makes the next one fail loudly.
commands[runc]=$(printf '%q ' runc --root "$runc_state" run --bundle "$bundle" "$runc_id")
# tandem-oci on the very bundle runc runs: the same config.json, the same cycle.
commands[tandem-oci]=$(printf '%q ' "$tandem_oci" --root "$oci_state" run --bundle "$bundle" "$runc_id")
commands[bwrap]=$(printf '%q ' bwrap --unshare-all --bind "$rootfs" / --proc /proc --dev /dev \
  /bin/true)

selected=()
hyperfine_args=()
for name in tandem tandem-oci runc bwrap; do
  has "$name" || continue
  selected+=("$name")
  hyperfine_args+=(--command-name "$name" "${commands[$name]}")
done

# No shell between hyperfine and the runtime: nothing to subtract, nothing to skew the spread.
raw=$work/hyperfine.json
hyperfine --shell=none --warmup 3 --runs "$runs" --export-json "$raw" --style basic \
  "${hyperfine_args[@]}" >&2

# Peak RSS as GNU time reports it: the largest single process among the runtime and the children
# it waited for, in KiB; the median of a few runs.
declare -A rss
for name in "${selected[@]}"; do
  samples=()
  for ((i = 0; i < rss_samples; i++)); do
    eval "/usr/bin/time -f %M -o $(printf '%q' "$work/rss") ${commands[$name]}"
    samples+=("$(<"$work/rss")")
  done
  rss[$name]=$(printf '%s\n' "${samples[@]}" | sort -n | sed -n "$((rss_samples / 2 + 1))p")
done

rss_json=$(for name in "${selected[@]}"; do echo "{\"$name\": ${rss[$name]}}"; done | jq -s add)
jq --argjson rss "$rss_json" --argjson runs "$runs" '
  def ms: . * 1000;
  def ratio($a; $b): (.[$a].median_ms / .[$b].median_ms);
  (.results | map({key: .command, value: {
      median_ms: (.median | ms), mean_ms: (.mean | ms), stddev_ms: (.stddev | ms),
      min_ms: (.min | ms), max_ms: (.max | ms), peak_rss_kib: $rss[.command]}})
    | from_entries) as $by_name
  | {runs: $runs, results: $by_name,
     ratios: ({}
       + (if $by_name.tandem and $by_name.runc
          then {"tandem/runc": ($by_name | ratio("tandem"; "runc"))} else {} end)
       + (if $by_name["tandem-oci"] and $by_name.runc
          then {"tandem-oci/runc": ($by_name | ratio("tandem-oci"; "runc"))} else {} end)
       + (if $by_name.tandem and $by_name.bwrap
          then {"tandem/bwrap": ($by_name | ratio("tandem"; "bwrap"))} else {} end)),
     hyperfine: .}
' "$raw" >"$json"

jq -r '
  "| runtime | median (ms) | mean ± σ (ms) | min – max (ms) | peak RSS (KiB) |",
  "|---|---:|---:|---:|---:|",
  (.results | to_entries[] | .value as $r |
    "| \(.key) | \($r.median_ms * 100 | round / 100) | \($r.mean_ms * 100 | round / 100) ± \($r.stddev_ms * 100 | round / 100) | \($r.min_ms * 100 | round / 100) – \($r.max_ms * 100 | round / 100) | \($r.peak_rss_kib) |"),
  "",
  (.ratios | to_entries[] | "\(.key) (medians): \(.value * 100 | round / 100)")
' "$json"
echo >&2 "JSON written to $json"

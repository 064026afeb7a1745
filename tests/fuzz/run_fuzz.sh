#!/usr/bin/env bash
# One fuzz target's test: run_fuzz.sh TARGET NAME REGRESSIONS ENGINE ARTIFACTS, where the seeds
# come from seeds.py NAME and REGRESSIONS holds the inputs of crashes found before.
# - ENGINE replay: runs TARGET on every seed and regression input once.
# - ENGINE libfuzzer: fuzzes for $FUZZ_SECONDS (default 45) from a scratch corpus grown from the
#   seeds and regressions, then prints one line with the executions, coverage and corpus. A crash,
#   a leak, a timeout or an out-of-memory fails the test; the input is kept in ARTIFACTS, to be
#   added to REGRESSIONS once the bug is fixed.
set -uo pipefail
target=$1 name=$2 regressions=$3 engine=$4 artifacts=$5

scratch=$(mktemp -d "/tmp/tandem-fuzz-$name-XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT
seeds=$scratch/seeds corpus=$scratch/corpus log=$scratch/log
mkdir -p "$corpus"
python3 "$(dirname "$0")/seeds.py" "$name" "$seeds" || exit 1
inputs=("$seeds")
if [[ -d $regressions ]]; then
  inputs+=("$regressions")
fi

if [[ $engine == replay ]]; then
  "$target" "${inputs[@]}"
  exit
fi

mkdir -p "$artifacts"
seconds=${FUZZ_SECONDS:-45}
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$artifacts/$name-" "$corpus" "${inputs[@]}" >"$log" 2>&1
status=$?
if ((status != 0)); then
  tail -n 80 "$log"
  echo "$name: libFuzzer stopped with exit $status; the input is in $artifacts" >&2
  exit 1
fi
# The last status line ("#N DONE cov: C ft: F corp: K/S ...") and the final statistics.
done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE[[:space:]]' "$log" | tail -n 1)
executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
coverage=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
features=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
corpus_size=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$done_line")
echo "$name: ${executions:-?} executions in ${seconds} s, coverage ${coverage:-?} edges," \
  "${features:-?} features, corpus ${corpus_size:-?}"

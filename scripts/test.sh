#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every meson suite (unit,
# container, vm, e2e, fuzz, bench), then runs them once more (but bench and, for now, vm) in a
# second build made by clang with AddressSanitizer and UndefinedBehaviorSanitizer, where
# libFuzzer drives each fuzz target for $FUZZ_SECONDS. Ends with one line "N passed, N failed,
# N skipped" over both.
# Extra arguments go to both `meson test` runs (e.g. --suite unit); TANDEM_SANITIZED=0 skips the
# second build.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
scripts/deps.sh || exit 1
scripts/build.sh || exit 1
build_dir=${BUILD_DIR:-build}
sanitized_dir=${SANITIZED_BUILD_DIR:-build-sanitized}
sanitized=${TANDEM_SANITIZED:-1}
# The microVM guest kernel, built once per configuration and cached outside the tree; tandem and
# the vm suite find it through these variables.
guest_kernel_dir=$(guest-kernel-config/build.sh | tail -n 1) || exit 1
export TANDEM_GUEST_KERNEL=$guest_kernel_dir/bzImage
export TANDEM_GUEST_VMLINUX=$guest_kernel_dir/vmlinux

# Unoptimised: clang compiles with both sanitizers some five times faster at -O0 than at -O1
# (57 s against 12 s for common/workload.cpp), and the tests wait on I/O and guests, not on it.
build_sanitized() {
  CXX=clang++ BUILD_DIR=$sanitized_dir nice -n 10 scripts/build.sh \
    -Dsanitize=true -Dfuzz=true -Doptimization=0
}

statuses=()
logs=()
# run_suites DIR LABEL LOGBASE [meson test arguments]
run_suites() {
  local dir=$1 label=$2 logbase=$3
  shift 3
  meson test -C "$dir" --print-errorlogs --num-processes 2 --logbase "$logbase" "$@"
  statuses+=($?)
  logs+=("$label=$dir/meson-logs/$logbase.json")
}

if (($# > 0)); then
  run_suites "$build_dir" "" testlog "$@"
  if ((sanitized)); then
    build_sanitized || exit 1
    run_suites "$sanitized_dir" sanitized testlog "$@"
  fi
else
  # The sanitized build (some ten minutes on two cores) overlaps the suites that leave a core
  # idle; the benchmarks run alone afterwards, so that nothing else skews their figures.
  build_pid=
  if ((sanitized)); then
    build_sanitized >"${TMPDIR:-/tmp}/tandem-sanitized-build.log" 2>&1 &
    build_pid=$!
  fi
  run_suites "$build_dir" "" testlog --no-suite bench
  if [[ -n $build_pid ]]; then
    if ! wait "$build_pid"; then
      tail -n 50 "${TMPDIR:-/tmp}/tandem-sanitized-build.log"
      echo "the sanitized build failed" >&2
      exit 1
    fi
  fi
  run_suites "$build_dir" "" bench --suite bench
  # Not yet the vm suite: its instrumented binaries start so slowly in the emulated KVM host
  # that it outgrows the suite's 25 minutes there (VM_SUITE_TIMEOUT=3000 scripts/test.sh --suite vm
  # runs it).
  if ((sanitized)); then
    run_suites "$sanitized_dir" sanitized testlog --no-suite bench --no-suite vm
  fi
fi

python3 scripts/test_summary.py "${logs[@]}"
summary_status=$?
for status in "${statuses[@]}"; do
  if ((status != 0 && summary_status == 0)); then
    echo "meson test failed (exit $status) outside any test's result" >&2
    exit "$status"
  fi
done
exit "$summary_status"

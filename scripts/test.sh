#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every meson suite (unit,
# container, vm, e2e), and ends with one line "N passed, N failed, N skipped".
# Extra arguments go to `meson test` (e.g. --suite unit).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1
scripts/build.sh || exit 1
build_dir=${BUILD_DIR:-build}
# The microVM guest kernel, built once per configuration and cached outside the tree; tandem and
# the vm suite find it through these variables.
guest_kernel_dir=$(guest-kernel-config/build.sh | tail -n 1) || exit 1
export TANDEM_GUEST_KERNEL=$guest_kernel_dir/bzImage
export TANDEM_GUEST_VMLINUX=$guest_kernel_dir/vmlinux

meson test -C "$build_dir" --print-errorlogs --num-processes 2 "$@"
meson_status=$?
python3 scripts/test_summary.py "$build_dir/meson-logs/testlog.json"
summary_status=$?
if ((meson_status != 0 && summary_status == 0)); then
  echo "meson test failed (exit $meson_status) outside any test's result" >&2
  exit "$meson_status"
fi
exit "$summary_status"

#!/bin/bash
# --tty gives the workload a terminal of its own on stdin and stdout; without it, the workload gets
# the plain descriptors it was handed.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
make_rootfs

# shellcheck disable=SC2016 # expanded by the shell in the container
readonly report='echo "tty=$(tty)"; test -t 0 && echo stdin=tty; test -t 1 && echo stdout=tty; exit 0'

# script(1) runs tandem on a pseudo-terminal, as a user at a terminal would. Terminal output ends
# lines with CR LF, and the terminal may echo control bytes a runtime writes to its input (runc
# writes a NUL, echoed as "^@"), so each check looks for its line's end only.
command=$(printf '%q ' "$TANDEM" run --isolation container --rootfs "$ROOTFS" --rm --tty \
  -- /bin/sh -c "$report")
status=0
out=$(timeout --kill-after=5 30 script -qec "$command" /dev/null </dev/null | tr -d '\r') || status=$?
err=""
assert_status 0 "tandem run --tty under script"
grep -qE 'tty=/dev/(pts/[0-9]+|console)$' <<<"$out" || fail "no terminal inside with --tty: $out"
grep -q 'stdin=tty$' <<<"$out" || fail "stdin is not a terminal with --tty: $out"
grep -q 'stdout=tty$' <<<"$out" || fail "stdout is not a terminal with --tty: $out"

tandem_run -- /bin/sh -c "$report"
assert_status 0 "tandem run without --tty"
assert_eq "tty=not a tty" "$out" "terminal checks without --tty"

#!/bin/bash
# Restart policies on containers: on-failure:N runs a failing workload N more times and keeps
# its writable layer between runs, with the count in its record; always runs it again whatever
# its code until tandem stop, which ends it for good; no restarts by default; --restart with
# --rm is refused.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
need_tools jq
make_rootfs


status=0
t run --isolation container --rootfs "$ROOTFS" --name flaky --restart on-failure:2 -- \
  sh -c 'echo x >>/runs; echo "run $(wc -l </runs)"; exit 3' </dev/null >"$SCRATCH/out" \
  2>"$SCRATCH/err" || status=$?
out=$(<"$SCRATCH/out")
err=$(<"$SCRATCH/err")
assert_status 3 "on-failure:2 of a workload that always fails"
assert_eq "run 1
run 2
run 3" "$out" "three runs, the writable layer kept between them"
assert_eq "exited 3 2 on-failure:2" \
  "$(t inspect flaky | jq -r '.[0] | "\(.state) \(.exit_code) \(.restart_count) \(.restart_policy)"')" \
  "the record of a restarted workload"

status=0
t run --isolation container --rootfs "$ROOTFS" --name fine --restart on-failure -- true \
  </dev/null >/dev/null 2>&1 || status=$?
assert_status 0 "on-failure of a workload that succeeds"
assert_eq 0 "$(t inspect fine | jq -r '.[0].restart_count')" "no restart after success"

t run -d --isolation container --rootfs "$ROOTFS" --name forever --restart always -- \
  sh -c 'echo run; sleep 0.1' </dev/null >/dev/null
restarted_twice() { (($(t inspect forever | jq -r '.[0].restart_count') >= 2)); }
until_true 20 restarted_twice || fail "always did not restart: $(t inspect forever)"
assert_eq running "$(t inspect forever | jq -r '.[0].state')" "a workload that always restarts"
[[ $(t ps) == *forever*re* ]] || fail "ps does not show the restarts: $(t ps)"
t stop -t 1 forever >/dev/null
count=$(t inspect forever | jq -r '.[0].restart_count')
sleep 1
assert_eq "exited $count" "$(t inspect forever | jq -r '.[0] | "\(.state) \(.restart_count)"')" \
  "always, after tandem stop: ended for good"
gone() { [[ -z $(processes_matching "$MARKER") ]]; }
until_true 10 gone || fail "a stopped workload left processes: $(processes_matching "$MARKER")"

# tandem kill ends it for good too; a signal it handles (SIGUSR1) leaves the policy alone.
t run -d --isolation container --rootfs "$ROOTFS" --name killed --restart always -- \
  sh -c 'trap "echo usr1" USR1; echo up; while :; do sleep 0.1; done' </dev/null >/dev/null
up() { t logs killed 2>/dev/null | grep -q up; }
until_true 10 up || fail "the killed-to-be workload never started"
t kill -s USR1 killed >/dev/null
t kill killed >/dev/null
assert_eq 137 "$(t wait killed)" "a restart=always workload after tandem kill"
sleep 1
assert_eq "exited 0" "$(t inspect killed | jq -r '.[0] | "\(.state) \(.restart_count)"')" \
  "always, after tandem kill: not restarted"

status=0
t run --isolation container --rootfs "$ROOTFS" --rm --restart always -- true \
  </dev/null >"$SCRATCH/out" 2>"$SCRATCH/err" || status=$?
out=$(<"$SCRATCH/out")
err=$(<"$SCRATCH/err")
assert_runtime_error "--restart with --rm"
[[ $err == *"--restart and --rm conflict"* ]] || fail "the conflict's message: $err"
status=0
t run --isolation container --rootfs "$ROOTFS" --restart sometimes -- true \
  </dev/null >"$SCRATCH/out" 2>"$SCRATCH/err" || status=$?
out=$(<"$SCRATCH/out")
err=$(<"$SCRATCH/err")
assert_runtime_error "--restart sometimes"

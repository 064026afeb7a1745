#!/bin/bash
# tandem explain and the operator's policy, end to end: what auto decides from trust, class,
# latency and kernel needs on this host, with its reasons; a policy that requires a level for a
# class, honoured by run and recorded with the reason; an explicit request the policy forbids,
# refused; a malformed policy refused naming the field.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
need_tools jq
make_rootfs

explain() {  # ARGS...: sets decision (the isolation line or "refused"), said (all of it), status
  status=0
  said=$(t explain --policy "$SCRATCH/none.json" --rootfs "$ROOTFS" "$@" -- true 2>&1) || status=$?
  decision=$(head -1 <<<"$said")
}
echo '{"classes": {}}' >"$SCRATCH/none.json"

explain --trust trusted
assert_eq "isolation: container" "$decision" "trusted code"
[[ $said == *"because: trusted code"* && $said == *"weighed:"* ]] || fail "explain's reasons: $said"
explain --trust trusted --memory 64M --cpus 0.5
[[ $(tail -n 1 <<<"$said") == "admission: it would reserve 64 MiB and 0.5 CPU; it fits beside the 0 running workloads" ]] ||
  fail "explain's admission line: $said"
explain --latency-sensitive
assert_eq "isolation: container" "$decision" "latency-sensitive code"
explain --trust untrusted
if kvm_usable; then
  assert_eq "isolation: vm" "$decision" "untrusted code on a KVM host"
else
  # Never quietly weakened to a container.
  assert_eq 125 "$status" "explain of untrusted code without a usable KVM"
  [[ $decision == "refused: untrusted code gets a kernel of its own, but a microVM cannot run"* ]] ||
    fail "untrusted code without a usable KVM: $said"
fi
explain --own-kernel --trust trusted
if kvm_usable; then
  assert_eq "isolation: vm" "$decision" "code that needs its own kernel"
else
  [[ $decision == "refused: it needs a kernel of its own"* ]] || fail "own kernel: $said"
fi
explain
if kvm_usable; then
  assert_eq "isolation: vm" "$decision" "code of unknown trust on a KVM host"
else
  assert_eq "isolation: container" "$decision" "code of unknown trust without a usable KVM"
  [[ $said == *"a microVM cannot run: "* ]] || fail "the reason a microVM cannot run: $said"
fi

# A policy: class batch takes containers only, and explicit microVMs are refused for it.
cat >"$SCRATCH/policy.json" <<'JSON'
{"classes": {"batch": {"require": "container"}, "*": {"allow": ["container", "vm"]}}}
JSON
status=0
t run --policy "$SCRATCH/policy.json" --class batch --trust untrusted --name batch-job \
  --rootfs "$ROOTFS" -- echo ran >"$SCRATCH/out" 2>"$SCRATCH/err" </dev/null || status=$?
out=$(<"$SCRATCH/out")
err=$(<"$SCRATCH/err")
assert_status 0 "a run of class batch"
assert_eq ran "$out" "the batch job's output"
assert_match '^container: the policy.s rule "batch" requires it' \
  "$(t inspect batch-job | jq -r '.[0].reason')" "the recorded reason"
status=0
t run --policy "$SCRATCH/policy.json" --class batch --isolation vm --rootfs "$ROOTFS" -- true \
  >"$SCRATCH/out" 2>"$SCRATCH/err" </dev/null || status=$?
out=$(<"$SCRATCH/out")
err=$(<"$SCRATCH/err")
assert_runtime_error "an explicit microVM the policy forbids"
[[ $err == *'rule "batch" does not allow vm'* ]] || fail "the refusal: $err"

# A malformed policy is refused, naming the field.
echo '{"classes": {"batch": {"require": "lxc"}}}' >"$SCRATCH/bad.json"
status=0
t run --policy "$SCRATCH/bad.json" --rootfs "$ROOTFS" -- true \
  >"$SCRATCH/out" 2>"$SCRATCH/err" </dev/null || status=$?
out=$(<"$SCRATCH/out")
err=$(<"$SCRATCH/err")
assert_runtime_error "a malformed policy"
[[ $err == *'classes.batch.require: expected "container" or "vm", not "lxc"'* ]] ||
  fail "the malformed policy's error: $err"
t run --policy "$SCRATCH/missing.json" --rootfs "$ROOTFS" -- true 2>"$SCRATCH/err" </dev/null &&
  fail "a missing --policy file was ignored"
[[ $(<"$SCRATCH/err") == *missing.json* ]] || fail "a missing policy's error: $(<"$SCRATCH/err")"

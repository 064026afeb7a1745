// Which isolation level runs a workload, for every combination of what the host offers.
#include <cerrno>
#include <cstring>
#include <string>

#include "scheduler/isolation_policy.h"
#include "tests/unit/unit_test.h"

using tandem::Error;
using tandem::Isolation;
using tandem::okStatus;
using tandem::Status;
using tandem::Workload;
using tandem::scheduler::chooseIsolation;
using tandem::scheduler::HostFacts;
using tandem::scheduler::IsolationChoice;

namespace {

const Status kNoKvm = Error::fromErrno("cannot open /dev/kvm", ENOENT);
const Status kNoCgroups = Error("no cgroup filesystem is mounted");

Workload requesting(Isolation level) {
  Workload w;
  w.command = {"/bin/true"};
  w.isolation = level;
  return w;
}

HostFacts host(Status container, Status vm) {
  return HostFacts{std::move(container), std::move(vm)};
}

IsolationChoice chooseOk(Isolation level, const HostFacts& facts) {
  auto choice = chooseIsolation(requesting(level), facts);
  if (!choice.ok()) {
    fail_msg("chooseIsolation failed: %s", choice.error().describe().c_str());
  }
  assert_false(choice->reason.empty());
  return *choice;
}

void expectMentions(const std::string& text, const char* needle) {
  if (text.find(needle) == std::string::npos) {
    fail_msg("\"%s\" does not mention \"%s\"", text.c_str(), needle);
  }
}

}  // namespace

static void explicit_container(void**) {
  for (const HostFacts& facts : {host(okStatus(), okStatus()), host(okStatus(), kNoKvm)}) {
    IsolationChoice choice = chooseOk(Isolation::kContainer, facts);
    assert_true(choice.level == Isolation::kContainer);
    expectMentions(choice.reason, "container");
    expectMentions(choice.reason, "requested");
  }
}

static void explicit_container_refused_with_the_backends_reason(void**) {
  for (const HostFacts& facts : {host(kNoCgroups, okStatus()), host(kNoCgroups, kNoKvm)}) {
    auto choice = chooseIsolation(requesting(Isolation::kContainer), facts);
    assert_false(choice.ok());
    // Never falls back to a microVM the user did not ask for.
    expectMentions(choice.error().message(), "no cgroup filesystem is mounted");
    expectMentions(choice.error().message(), "--isolation container");
  }
}

static void explicit_vm(void**) {
  for (const HostFacts& facts : {host(okStatus(), okStatus()), host(kNoCgroups, okStatus())}) {
    IsolationChoice choice = chooseOk(Isolation::kVm, facts);
    assert_true(choice.level == Isolation::kVm);
    expectMentions(choice.reason, "vm");
    expectMentions(choice.reason, "requested");
  }
}

static void explicit_vm_refused_with_the_backends_reason(void**) {
  for (const HostFacts& facts : {host(okStatus(), kNoKvm), host(kNoCgroups, kNoKvm)}) {
    auto choice = chooseIsolation(requesting(Isolation::kVm), facts);
    assert_false(choice.ok());
    // Never quietly weakened to a container.
    expectMentions(choice.error().message(), "cannot open /dev/kvm");
    expectMentions(choice.error().message(), "--isolation vm");
    // The system's reason travels with it.
    assert_int_equal(choice.error().errnum(), ENOENT);
    expectMentions(choice.error().describe(), std::strerror(ENOENT));
  }
}

static void auto_prefers_a_vm(void**) {
  for (const HostFacts& facts : {host(okStatus(), okStatus()), host(kNoCgroups, okStatus())}) {
    IsolationChoice choice = chooseOk(Isolation::kAuto, facts);
    assert_true(choice.level == Isolation::kVm);
    expectMentions(choice.reason, "automatically");
  }
}

static void auto_falls_back_to_a_container_and_says_why(void**) {
  IsolationChoice choice = chooseOk(Isolation::kAuto, host(okStatus(), kNoKvm));
  assert_true(choice.level == Isolation::kContainer);
  expectMentions(choice.reason, "automatically");
  expectMentions(choice.reason, "cannot open /dev/kvm");
  expectMentions(choice.reason, std::strerror(ENOENT));
}

static void auto_with_nothing_available_names_both_reasons(void**) {
  auto choice = chooseIsolation(requesting(Isolation::kAuto), host(kNoCgroups, kNoKvm));
  assert_false(choice.ok());
  expectMentions(choice.error().message(), "no cgroup filesystem is mounted");
  expectMentions(choice.error().message(), "cannot open /dev/kvm");
  expectMentions(choice.error().message(), std::strerror(ENOENT));
}

static void the_host_facts_are_not_consumed(void**) {
  // The same facts decide many workloads.
  HostFacts facts = host(kNoCgroups, kNoKvm);
  for (int i = 0; i < 3; ++i) {
    auto choice = chooseIsolation(requesting(Isolation::kVm), facts);
    assert_false(choice.ok());
    expectMentions(choice.error().message(), "cannot open /dev/kvm");
  }
  assert_false(facts.vm.ok());
  assert_string_equal(facts.vm.error().message().c_str(), "cannot open /dev/kvm");
  assert_string_equal(facts.container.error().message().c_str(), "no cgroup filesystem is mounted");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(explicit_container),
      cmocka_unit_test(explicit_container_refused_with_the_backends_reason),
      cmocka_unit_test(explicit_vm),
      cmocka_unit_test(explicit_vm_refused_with_the_backends_reason),
      cmocka_unit_test(auto_prefers_a_vm),
      cmocka_unit_test(auto_falls_back_to_a_container_and_says_why),
      cmocka_unit_test(auto_with_nothing_available_names_both_reasons),
      cmocka_unit_test(the_host_facts_are_not_consumed),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

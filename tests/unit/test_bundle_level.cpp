// Which isolation level runs an OCI bundle: the placement request read from its annotations and
// resources (or the level the runtime was invoked for), each bad annotation refused by name; that
// request weighed against hand-made host facts and operator policies; and the level argv[0]
// stands for.
#include <cerrno>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/oci/runtime_spec.h"
#include "scheduler/bundle_level.h"
#include "tests/unit/unit_test.h"

using nlohmann::json;
using namespace tandem;
using namespace tandem::scheduler;

namespace {

constexpr auto A = Isolation::kAuto;
constexpr auto C = Isolation::kContainer;
constexpr auto V = Isolation::kVm;

const Status kNoKvm = Error::fromErrno("cannot open /dev/kvm", ENOENT);

// The smallest bundle parseSpec takes, with `annotations` and `resources` added.
oci::Spec spec(const std::map<std::string, std::string>& annotations = {},
               const json& resources = json()) {
  json document = json::parse(R"({
    "ociVersion": "1.0.2",
    "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"},
    "root": {"path": "rootfs"},
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
  })");
  if (!annotations.empty()) document["annotations"] = annotations;
  if (!resources.is_null()) document["linux"]["resources"] = resources;
  auto parsed = oci::parseSpec(document.dump());
  if (!parsed) fail_msg("parseSpec failed: %s", parsed.error().describe().c_str());
  return *parsed;
}

PlacementRequest request(const oci::Spec& bundle, Isolation invokedFor) {
  auto placed = placementRequest(bundle, invokedFor);
  if (!placed) fail_msg("placementRequest refused: %s", placed.error().describe().c_str());
  return *placed;
}

void expectMentions(const std::string& text, const char* part) {
  if (text.find(part) == std::string::npos) {
    fail_msg("\"%s\" does not mention \"%s\"", text.c_str(), part);
  }
}

OperatorPolicy policy(const char* text) {
  auto parsed = parseOperatorPolicy(text, "policy.json");
  if (!parsed) fail_msg("the policy does not parse: %s", parsed.error().describe().c_str());
  return *parsed;
}

HostFacts both() {
  return HostFacts{okStatus(), okStatus(), std::nullopt};
}

HostFacts containersOnly() {
  return HostFacts{okStatus(), kNoKvm, std::nullopt};
}

IsolationChoice chosen(const oci::Spec& bundle, Isolation invokedFor, const HostFacts& host,
                       const OperatorPolicy& operatorPolicy = {}) {
  auto choice = chooseBundleLevel(bundle, invokedFor, host, operatorPolicy);
  if (!choice) fail_msg("chooseBundleLevel refused: %s", choice.error().describe().c_str());
  return *choice;
}

std::string refusal(const oci::Spec& bundle, Isolation invokedFor, const HostFacts& host,
                    const OperatorPolicy& operatorPolicy = {}) {
  auto choice = chooseBundleLevel(bundle, invokedFor, host, operatorPolicy);
  if (choice) fail_msg("chooseBundleLevel chose %s, expected a refusal", toString(choice->level));
  return choice.error().describe();
}

}  // namespace

static void without_annotations_the_invoked_level_is_requested(void**) {
  for (Isolation invokedFor : {C, V}) {
    PlacementRequest placed = request(spec(), invokedFor);
    assert_true(placed.requested == invokedFor);
    assert_true(placed.trust == Trust::kUnknown);
    assert_true(placed.workloadClass.empty());
    assert_false(placed.needsOwnKernel);
    assert_false(placed.latencySensitive);
    assert_false(placed.joinsContainerNetwork);
    assert_false(placed.memoryBytes.has_value());
    assert_false(placed.cpuMilli.has_value());
  }
}

static void other_annotations_are_not_read(void**) {
  PlacementRequest placed =
      request(spec({{"io.container.manager", "libpod"}, {"io.tandem.other", "vm"}}), C);
  assert_true(placed.requested == C);
  assert_true(placed.trust == Trust::kUnknown);
  assert_true(placed.workloadClass.empty());
}

static void the_isolation_annotation_overrides_the_invoked_level(void**) {
  struct Row {
    const char* annotation;
    Isolation expected;
  } rows[] = {{"vm", V}, {"microvm", V}, {"container", C}, {"auto", A}};
  for (const Row& row : rows) {
    for (Isolation invokedFor : {C, V}) {
      PlacementRequest placed = request(spec({{kIsolationAnnotation, row.annotation}}), invokedFor);
      if (placed.requested != row.expected) {
        fail_msg("%s, invoked for %s: requested %s", row.annotation, toString(invokedFor),
                 toString(placed.requested));
      }
    }
  }
}

static void an_unknown_isolation_is_refused_naming_the_annotation(void**) {
  for (const char* level : {"kata", "", "VM", "gvisor"}) {
    auto placed = placementRequest(spec({{kIsolationAnnotation, level}}), C);
    if (placed) fail_msg("isolation \"%s\" accepted", level);
    expectMentions(placed.error().message(), "io.tandem.isolation");
    expectMentions(placed.error().message(), (std::string("\"") + level + "\"").c_str());
  }
}

static void the_trust_annotation_sets_trust(void**) {
  struct Row {
    const char* annotation;
    Trust expected;
  } rows[] = {
      {"untrusted", Trust::kUntrusted}, {"trusted", Trust::kTrusted}, {"unknown", Trust::kUnknown}};
  for (const Row& row : rows) {
    PlacementRequest placed = request(spec({{kTrustAnnotation, row.annotation}}), V);
    if (placed.trust != row.expected) {
      fail_msg("%s: trust %s", row.annotation, toString(placed.trust));
    }
    assert_true(placed.requested == V);
  }
}

static void a_bad_trust_is_refused_naming_the_annotation(void**) {
  for (const char* trust : {"yes", "", "Trusted"}) {
    auto placed = placementRequest(spec({{kTrustAnnotation, trust}}), C);
    if (placed) fail_msg("trust \"%s\" accepted", trust);
    expectMentions(placed.error().message(), "io.tandem.trust");
    expectMentions(placed.error().message(), (std::string("\"") + trust + "\"").c_str());
  }
}

static void the_class_annotation_names_the_workload_class(void**) {
  PlacementRequest placed = request(spec({{kClassAnnotation, "untrusted-code"}}), C);
  assert_string_equal(placed.workloadClass.c_str(), "untrusted-code");
  assert_true(placed.trust == Trust::kUnknown);
}

static void all_three_annotations_together(void**) {
  PlacementRequest placed = request(spec({{kIsolationAnnotation, "auto"},
                                          {kTrustAnnotation, "untrusted"},
                                          {kClassAnnotation, "batch"}}),
                                    C);
  assert_true(placed.requested == A);
  assert_true(placed.trust == Trust::kUntrusted);
  assert_string_equal(placed.workloadClass.c_str(), "batch");
}

static void the_memory_limit_becomes_memory_bytes(void**) {
  PlacementRequest placed = request(spec({}, {{"memory", {{"limit", 536870912}}}}), V);
  assert_true(placed.memoryBytes.has_value());
  assert_int_equal(*placed.memoryBytes, 536870912);
  for (std::int64_t none : {0, -1}) {
    assert_false(request(spec({}, {{"memory", {{"limit", none}}}}), V).memoryBytes.has_value());
  }
}

static void the_cpu_quota_becomes_cpu_milli(void**) {
  struct Row {
    json cpu;
    std::uint64_t milli;
  } rows[] = {
      {{{"quota", 50000}, {"period", 100000}}, 500},
      {{{"quota", 300000}, {"period", 100000}}, 3000},
      {{{"quota", 25000}, {"period", 50000}}, 500},
      {{{"quota", 50000}}, 500},  // the kernel's default period, 100000
  };
  for (const Row& row : rows) {
    PlacementRequest placed = request(spec({}, {{"cpu", row.cpu}}), V);
    if (!placed.cpuMilli) fail_msg("%s: no cpuMilli", row.cpu.dump().c_str());
    if (*placed.cpuMilli != row.milli) {
      fail_msg("%s: cpuMilli %llu, expected %llu", row.cpu.dump().c_str(),
               static_cast<unsigned long long>(*placed.cpuMilli),
               static_cast<unsigned long long>(row.milli));
    }
  }
  assert_false(request(spec({}, {{"cpu", {{"quota", -1}}}}), V).cpuMilli.has_value());
  assert_false(request(spec({}, {{"cpu", {{"shares", 512}}}}), V).cpuMilli.has_value());
}

static void an_annotated_vm_without_vm_is_refused_not_swapped(void**) {
  std::string message = refusal(spec({{kIsolationAnnotation, "vm"}}), C, containersOnly());
  expectMentions(message, "cannot open /dev/kvm");
  // Invoked as tandem-oci-vm, without an annotation, the same.
  expectMentions(refusal(spec(), V, containersOnly()), "cannot open /dev/kvm");
}

static void auto_and_untrusted_take_a_vm_where_one_can_run(void**) {
  oci::Spec bundle = spec({{kIsolationAnnotation, "auto"}, {kTrustAnnotation, "untrusted"}});
  IsolationChoice choice = chosen(bundle, C, both());
  assert_true(choice.level == V);
  expectMentions(choice.reason, "untrusted code");
  // Never a container instead.
  expectMentions(refusal(bundle, C, containersOnly()), "a microVM cannot run");
}

static void without_annotations_the_invoked_level_runs(void**) {
  IsolationChoice container = chosen(spec(), C, both());
  assert_true(container.level == C);
  expectMentions(container.reason, "requested");
  IsolationChoice vm = chosen(spec(), V, both());
  assert_true(vm.level == V);
  expectMentions(vm.reason, "requested");
}

static void a_class_the_policy_puts_in_a_vm_is_refused_a_container(void**) {
  OperatorPolicy requiresVm = policy(R"({"classes": {"untrusted-code": {"require": "vm"}}})");
  oci::Spec classed = spec({{kClassAnnotation, "untrusted-code"}});
  // Invoked as tandem-oci (container), or annotated container: refused, never made a microVM.
  expectMentions(refusal(classed, C, both(), requiresVm), "does not allow container");
  oci::Spec annotated =
      spec({{kClassAnnotation, "untrusted-code"}, {kIsolationAnnotation, "container"}});
  expectMentions(refusal(annotated, V, both(), requiresVm), "does not allow container");
  // Left to auto, the policy's rule decides.
  oci::Spec automatic =
      spec({{kClassAnnotation, "untrusted-code"}, {kIsolationAnnotation, "auto"}});
  IsolationChoice choice = chosen(automatic, C, both(), requiresVm);
  assert_true(choice.level == V);
  expectMentions(choice.reason, "rule \"untrusted-code\" requires");
  // Another class is not held to the rule.
  assert_true(chosen(spec({{kClassAnnotation, "batch"}}), C, both(), requiresVm).level == C);
}

static void a_bad_annotation_refuses_the_choice(void**) {
  expectMentions(refusal(spec({{kIsolationAnnotation, "kata"}}), C, both()), "io.tandem.isolation");
  expectMentions(refusal(spec({{kTrustAnnotation, "maybe"}}), C, both()), "io.tandem.trust");
}

static void the_bundles_memory_is_weighed(void**) {
  // 1 GiB of guest memory, and the VMM's overhead, do not fit in 512 MiB available; 256 MiB do.
  oci::Spec big = spec({{kIsolationAnnotation, "vm"}}, {{"memory", {{"limit", 1073741824}}}});
  HostFacts small{okStatus(), okStatus(), std::uint64_t{512} << 20};
  expectMentions(refusal(big, C, small), "the host has 512 MiB available");
  oci::Spec fits = spec({{kIsolationAnnotation, "vm"}}, {{"memory", {{"limit", 268435456}}}});
  assert_true(chosen(fits, C, small).level == V);
}

static void argv0_names_the_invoked_level(void**) {
  struct Row {
    const char* program;
    Isolation expected;
  } rows[] = {
      {"/usr/bin/tandem-oci-vm", V},
      {"tandem-oci-vm", V},
      {"./tandem-oci-vm", V},
      {"/usr/bin/tandem-oci", C},
      {"tandem-oci", C},
      {"runc", C},
      {"/usr/bin/tandem-oci-vm2", C},
      {"/opt/tandem-oci-vm/bin/tandem-oci", C},
      {"", C},
  };
  for (const Row& row : rows) {
    Isolation level = levelInvokedFor(row.program);
    if (level != row.expected) {
      fail_msg("\"%s\": %s, expected %s", row.program, toString(level), toString(row.expected));
    }
  }
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(without_annotations_the_invoked_level_is_requested),
      cmocka_unit_test(other_annotations_are_not_read),
      cmocka_unit_test(the_isolation_annotation_overrides_the_invoked_level),
      cmocka_unit_test(an_unknown_isolation_is_refused_naming_the_annotation),
      cmocka_unit_test(the_trust_annotation_sets_trust),
      cmocka_unit_test(a_bad_trust_is_refused_naming_the_annotation),
      cmocka_unit_test(the_class_annotation_names_the_workload_class),
      cmocka_unit_test(all_three_annotations_together),
      cmocka_unit_test(the_memory_limit_becomes_memory_bytes),
      cmocka_unit_test(the_cpu_quota_becomes_cpu_milli),
      cmocka_unit_test(an_annotated_vm_without_vm_is_refused_not_swapped),
      cmocka_unit_test(auto_and_untrusted_take_a_vm_where_one_can_run),
      cmocka_unit_test(without_annotations_the_invoked_level_runs),
      cmocka_unit_test(a_class_the_policy_puts_in_a_vm_is_refused_a_container),
      cmocka_unit_test(a_bad_annotation_refuses_the_choice),
      cmocka_unit_test(the_bundles_memory_is_weighed),
      cmocka_unit_test(argv0_names_the_invoked_level),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

// Which isolation level runs a workload: a table of requests, host facts and operator policies
// against the level chosen (or the refusal) and a word its reason must hold; then the policy
// file's parser, and the memory each level is charged.
#include <cerrno>
#include <cstring>
#include <string>

#include "scheduler/isolation_policy.h"
#include "tests/unit/unit_test.h"

using namespace tandem;
using namespace tandem::scheduler;

namespace {

const Status kNoKvm = Error::fromErrno("cannot open /dev/kvm", ENOENT);
const Status kNoCgroups = Error("no cgroup filesystem is mounted");
constexpr std::uint64_t kMiB = 1ull << 20;

struct Row {
  const char* what;
  PlacementRequest request;
  bool container;  // the host offers containers
  bool vm;         // the host offers microVMs
  std::optional<std::uint64_t> availableMiB;
  const char* policy;                 // JSON; "" for none
  std::optional<Isolation> expected;  // nullopt: refused
  const char* mentions;               // in the reason, or in the refusal
};

PlacementRequest req(Isolation requested, Trust trust = Trust::kUnknown, const char* cls = "",
                     bool ownKernel = false, bool latency = false,
                     std::optional<std::uint64_t> memoryMiB = std::nullopt) {
  PlacementRequest r;
  r.requested = requested;
  r.trust = trust;
  r.workloadClass = cls;
  r.needsOwnKernel = ownKernel;
  r.latencySensitive = latency;
  if (memoryMiB) r.memoryBytes = *memoryMiB * kMiB;
  return r;
}

constexpr auto A = Isolation::kAuto;
constexpr auto C = Isolation::kContainer;
constexpr auto V = Isolation::kVm;
constexpr auto T = Trust::kTrusted;
constexpr auto U = Trust::kUntrusted;

const Row kRows[] = {
    // Explicit requests: honoured, or refused with the backend's or the policy's reason.
    {"explicit container", req(C), true, true, {}, "", C, "requested with --isolation container"},
    {"explicit vm", req(V), true, true, {}, "", V, "requested with --isolation vm"},
    {"explicit vm without KVM", req(V), true, false, {}, "", {}, "cannot open /dev/kvm"},
    {"explicit container without cgroups",
     req(C),
     false,
     true,
     {},
     "",
     {},
     "no cgroup filesystem is mounted"},
    {"explicit container where the policy forbids it",
     req(C, U),
     true,
     true,
     {},
     R"({"classes": {"untrusted": {"require": "vm"}}})",
     {},
     "does not allow container"},
    {"explicit vm that does not fit in memory",
     req(V, Trust::kUnknown, "", false, false, 1024),
     true,
     true,
     512,
     "",
     {},
     "the host has 512 MiB available"},
    // auto, without a policy.
    {"auto, unknown trust: the strongest", req(A), true, true, {}, "", V, "strongest"},
    {"auto, unknown trust, no KVM: a container, saying why",
     req(A),
     true,
     false,
     {},
     "",
     C,
     "cannot open /dev/kvm"},
    {"auto, trusted: a container", req(A, T), true, true, {}, "", C, "trusted code"},
    {"auto, trusted, no cgroups: a microVM", req(A, T), false, true, {}, "", V, "strongest"},
    {"auto, untrusted: a microVM", req(A, U), true, true, {}, "", V, "untrusted code"},
    {"auto, untrusted, no KVM: refused, never a container",
     req(A, U),
     true,
     false,
     {},
     "",
     {},
     "untrusted code gets a kernel of its own, but a microVM cannot run"},
    {"auto, own kernel: a microVM",
     req(A, T, "", true),
     true,
     true,
     {},
     "",
     V,
     "a kernel of its own"},
    {"auto, own kernel, no KVM: refused",
     req(A, T, "", true),
     true,
     false,
     {},
     "",
     {},
     "a kernel of its own"},
    {"auto, latency-sensitive: a container",
     req(A, Trust::kUnknown, "", false, true),
     true,
     true,
     {},
     "",
     C,
     "latency-sensitive"},
    {"auto, untrusted and latency-sensitive: still a microVM",
     req(A, U, "", false, true),
     true,
     true,
     {},
     "",
     V,
     "untrusted"},
    {"auto, a microVM does not fit: a container, saying why",
     req(A, Trust::kUnknown, "", false, false, 200), true, true, 202, "", C,
     "a microVM needs 204 MiB and the host has 202 MiB available"},
    {"auto, nothing can run: both reasons",
     req(A),
     false,
     false,
     {},
     "",
     {},
     "no cgroup filesystem is mounted"},
    // auto, with a policy.
    {"policy requires vm for the class",
     req(A, T, "secure"),
     true,
     true,
     {},
     R"({"classes": {"secure": {"require": "vm"}}})",
     V,
     "requires"},
    {"policy requires vm, no KVM: refused",
     req(A, T, "secure"),
     true,
     false,
     {},
     R"({"classes": {"secure": {"require": "vm"}}})",
     {},
     "requires vm"},
    {"policy default container for the class",
     req(A, Trust::kUnknown, "batch"),
     true,
     true,
     {},
     R"({"classes": {"batch": {"default": "container"}}})",
     C,
     "defaults to"},
    {"policy default vm that cannot run: the signals decide",
     req(A, Trust::kUnknown, "batch"),
     true,
     false,
     {},
     R"({"classes": {"batch": {"default": "vm"}}})",
     C,
     "cannot open /dev/kvm"},
    {"policy allows only containers: untrusted is refused",
     req(A, U),
     true,
     true,
     {},
     R"({"classes": {"*": {"allow": ["container"]}}})",
     {},
     "does not allow vm"},
    {"the * rule applies to a class without one",
     req(A, T, "other"),
     true,
     true,
     {},
     R"({"classes": {"*": {"require": "vm"}}})",
     V,
     "rule \"*\""},
    {"trust names the class",
     req(A, T),
     true,
     true,
     {},
     R"({"classes": {"trusted": {"require": "vm"}}})",
     V,
     "rule \"trusted\""},
};

void the_table_holds(void**) {
  for (const Row& row : kRows) {
    OperatorPolicy policy;
    if (*row.policy != '\0') {
      auto parsed = parseOperatorPolicy(row.policy, "policy.json");
      if (!parsed)
        fail_msg("%s: the policy does not parse: %s", row.what, parsed.error().describe().c_str());
      policy = *parsed;
    }
    HostFacts host{
        row.container ? okStatus() : kNoCgroups, row.vm ? okStatus() : kNoKvm,
        row.availableMiB ? std::optional<std::uint64_t>(*row.availableMiB * kMiB) : std::nullopt};
    auto choice = chooseIsolation(row.request, host, policy);
    std::string said = choice ? describe(*choice) : choice.error().describe();
    if (row.expected) {
      if (!choice) fail_msg("%s: refused: %s", row.what, said.c_str());
      if (choice->level != *row.expected) {
        fail_msg("%s: got %s (%s)", row.what, toString(choice->level), said.c_str());
      }
      if (choice->reason.rfind(std::string(toString(*row.expected)) + ": ", 0) != 0) {
        fail_msg("%s: the reason does not begin with the level: %s", row.what, said.c_str());
      }
    } else if (choice) {
      fail_msg("%s: expected a refusal, got %s", row.what, said.c_str());
    }
    if (said.find(row.mentions) == std::string::npos) {
      fail_msg("%s: \"%s\" does not mention \"%s\"", row.what, said.c_str(), row.mentions);
    }
  }
}

void an_explicit_refusal_keeps_the_backends_errno(void**) {
  auto choice = chooseIsolation(req(V), HostFacts{okStatus(), kNoKvm, std::nullopt});
  assert_false(choice.ok());
  assert_int_equal(choice.error().errnum(), ENOENT);
  assert_true(choice.error().describe().find(std::strerror(ENOENT)) != std::string::npos);
}

void policy_files_are_checked_field_by_field(void**) {
  struct Bad {
    const char* json;
    const char* mentions;
  } bad[] = {
      {"not json", "not valid JSON"},
      {"[]", "expected an object"},
      {R"({"rules": {}})", "unknown field \"rules\""},
      {R"({"classes": []})", "classes: expected an object"},
      {R"({"classes": {"a": 1}})", "classes.a: expected an object"},
      {R"({"classes": {"a": {"allow": []}}})", "classes.a.allow: expected a non-empty list"},
      {R"({"classes": {"a": {"allow": ["vm", "lxc"]}}})", "classes.a.allow[1]"},
      {R"({"classes": {"a": {"require": "auto"}}})", "classes.a.require"},
      {R"({"classes": {"a": {"prefer": "vm"}}})", "classes.a.prefer: unknown field"},
      {R"({"classes": {"a": {"allow": ["container"], "require": "vm"}}})", "not in its allow list"},
      {R"({"classes": {"a": {"require": "vm", "default": "container"}}})", "contradicts"},
  };
  for (const Bad& b : bad) {
    auto parsed = parseOperatorPolicy(b.json, "p.json");
    if (parsed) fail_msg("%s parsed", b.json);
    if (parsed.error().message().find(b.mentions) == std::string::npos ||
        parsed.error().message().find("p.json") == std::string::npos) {
      fail_msg("%s: \"%s\" does not mention \"%s\" and the file", b.json,
               parsed.error().message().c_str(), b.mentions);
    }
  }
  auto good = parseOperatorPolicy(
      R"({"classes": {"a": {"allow": ["container"], "default": "container"}, "*": {}}})", "p");
  assert_true(good.ok());
  assert_true(good->ruleFor("a").second == "a");
  assert_true(good->ruleFor("zzz").second == "*");
  assert_int_equal(good->ruleFor("a").first.allow.size(), 1);
  assert_true(OperatorPolicy{}.ruleFor("a").second.empty());
  // No file at the default place is no policy; a named file must exist.
  assert_true(loadOperatorPolicy("/nonexistent/policy.json", false).ok());
  assert_false(loadOperatorPolicy("/nonexistent/policy.json", true).ok());
}

void joining_a_containers_network_takes_a_container(void**) {
  PlacementRequest joining = req(A);
  joining.joinsContainerNetwork = true;
  HostFacts both{okStatus(), okStatus(), std::nullopt};
  auto chosen = chooseIsolation(joining, both);
  assert_true(chosen.ok() && chosen->level == C);
  assert_true(chosen->reason.find("joins a container's network") != std::string::npos);
  for (PlacementRequest needsVm : {req(V), req(A, U)}) {
    needsVm.joinsContainerNetwork = true;
    auto refused = chooseIsolation(needsVm, both);
    assert_false(refused.ok());
    assert_true(refused.error().message().find("a microVM cannot join") != std::string::npos);
  }
  auto noCgroups = chooseIsolation(joining, HostFacts{kNoCgroups, okStatus(), std::nullopt});
  assert_false(noCgroups.ok());
}

void each_level_is_charged_its_host_memory(void**) {
  assert_int_equal(hostMemoryFor(C, req(A)), 0);
  assert_int_equal(hostMemoryFor(C, req(A, T, "", false, false, 64)), 64 * kMiB);
  assert_int_equal(hostMemoryFor(V, req(A)), kDefaultGuestMemoryBytes + kVmOverheadBytes);
  assert_int_equal(hostMemoryFor(V, req(A, T, "", false, false, 64)), 64 * kMiB + kVmOverheadBytes);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(the_table_holds),
      cmocka_unit_test(an_explicit_refusal_keeps_the_backends_errno),
      cmocka_unit_test(policy_files_are_checked_field_by_field),
      cmocka_unit_test(joining_a_containers_network_takes_a_container),
      cmocka_unit_test(each_level_is_charged_its_host_memory),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

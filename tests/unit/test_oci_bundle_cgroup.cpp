// An OCI bundle's cgroup: where linux.cgroupsPath puts it (as a path, or systemd's
// "slice:prefix:name"), the limits linux.resources sets, and the device allowlist its ordered
// allow and deny rules leave.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "container/device_rules.h"
#include "container/oci/bundle_cgroup.h"
#include "tests/unit/unit_test.h"

using tandem::ResourceLimits;
using tandem::container::cgroupPathFor;
using tandem::container::defaultDeviceRules;
using tandem::container::deviceAllowList;
using tandem::container::DeviceRule;
using tandem::container::limitsFrom;
using tandem::container::toV1Rule;
using tandem::oci::DeviceCgroupRule;
using tandem::oci::Resources;

namespace {

void expectPath(const std::string& cgroupsPath, bool systemd, const char* expected) {
  auto path = cgroupPathFor(cgroupsPath, "c1", systemd);
  if (!path.ok()) {
    fail_msg("\"%s\" (systemd %d) refused: %s", cgroupsPath.c_str(), systemd,
             path.error().message().c_str());
  }
  if (*path != expected) {
    fail_msg("\"%s\" (systemd %d) gives \"%s\", expected \"%s\"", cgroupsPath.c_str(), systemd,
             path->c_str(), expected);
  }
}

void expectPathRefused(const std::string& cgroupsPath, bool systemd) {
  auto path = cgroupPathFor(cgroupsPath, "c1", systemd);
  if (path.ok()) {
    fail_msg("\"%s\" (systemd %d) accepted as \"%s\"", cgroupsPath.c_str(), systemd, path->c_str());
  }
  if (path.error().message().find("cgroupsPath") == std::string::npos) {
    fail_msg("error \"%s\" does not name cgroupsPath", path.error().message().c_str());
  }
}

DeviceCgroupRule rule(bool allow, char type, std::optional<std::int64_t> major,
                      std::optional<std::int64_t> minor, const char* access = "rwm") {
  DeviceCgroupRule out;
  out.allow = allow;
  out.type = type;
  out.major = major;
  out.minor = minor;
  out.access = access;
  return out;
}

DeviceCgroupRule denyAll() {
  return rule(false, 'a', std::nullopt, std::nullopt);
}

std::vector<std::string> asText(const std::vector<DeviceRule>& rules) {
  std::vector<std::string> out;
  for (const auto& each : rules) out.push_back(toV1Rule(each));
  return out;
}

// `actual` must be exactly `first`, then runc's default rules in their order.
void expectAllowList(const std::vector<DeviceRule>& actual, std::vector<std::string> first) {
  std::vector<std::string> expected = first;
  for (const auto& each : asText(defaultDeviceRules())) expected.push_back(each);
  std::vector<std::string> got = asText(actual);
  std::string shown;
  for (const auto& each : got) shown += "[" + each + "] ";
  if (got.size() != expected.size()) {
    fail_msg("%zu rules, expected %zu: %s", got.size(), expected.size(), shown.c_str());
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] != expected[i]) {
      fail_msg("rule %zu is \"%s\", expected \"%s\": %s", i, got[i].c_str(), expected[i].c_str(),
               shown.c_str());
    }
  }
}

}  // namespace

static void empty_cgroups_path_is_tandem_and_the_id(void**) {
  expectPath("", false, "tandem/c1");
  expectPath("", true, "tandem/c1");
  assert_string_equal(cgroupPathFor("", "web-2", false)->c_str(), "tandem/web-2");
}

static void path_loses_its_leading_slash(void**) {
  expectPath("/a/b/c", false, "a/b/c");
  expectPath("/kubepods/burstable/pod1/c1", false, "kubepods/burstable/pod1/c1");
  // Relative paths are read the same way.
  expectPath("a/b", false, "a/b");
}

static void path_is_cleaned_of_empty_and_dot_parts(void**) {
  expectPath("//a///b/./c/", false, "a/b/c");
  expectPath("/./a", false, "a");
}

static void path_may_not_climb(void**) {
  expectPathRefused("..", false);
  expectPathRefused("/..", false);
  expectPathRefused("/a/../b", false);
  expectPathRefused("/a/b/..", false);
  // ".." only as a whole part: a name that merely contains dots is fine.
  expectPath("/a/..b/c..", false, "a/..b/c..");
}

static void path_may_not_name_the_root(void**) {
  expectPathRefused("/", false);
  expectPathRefused("//", false);
  expectPathRefused("/./", false);
}

static void systemd_slice_prefix_name_is_a_scope_in_the_slice(void**) {
  expectPath("machine.slice:libpod:abc", true, "machine.slice/libpod-abc.scope");
  expectPath("system.slice:docker:0123abcd", true, "system.slice/docker-0123abcd.scope");
}

static void systemd_nested_slices_are_expanded(void**) {
  expectPath("a-b.slice:p:n", true, "a.slice/a-b.slice/p-n.scope");
  expectPath("kubepods-burstable-pod1.slice:cri-containerd:c1", true,
             "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/"
             "cri-containerd-c1.scope");
}

static void systemd_empty_slice_is_system_slice_and_root_slice_is_the_root(void**) {
  // As runc: no slice means system.slice.
  expectPath(":p:n", true, "system.slice/p-n.scope");
  expectPath("-.slice:p:n", true, "p-n.scope");
  // No prefix: the scope is the name alone.
  expectPath("machine.slice::abc", true, "machine.slice/abc.scope");
}

static void systemd_form_is_refused_when_malformed(void**) {
  expectPathRefused("machine.slice:libpod", true);
  expectPathRefused("machine.slice", true);
  expectPathRefused("/machine.slice/libpod-abc.scope", true);
  expectPathRefused("a.slice:b:c:d", true);
  expectPathRefused("machine:libpod:abc", true);
  expectPathRefused("a/b.slice:p:n", true);
}

static void systemd_form_without_systemd_cgroup_is_a_plain_path(void**) {
  expectPath("machine.slice:libpod:abc", false, "machine.slice:libpod:abc");
}

static void no_resources_no_limits(void**) {
  ResourceLimits limits = limitsFrom(Resources{});
  assert_false(limits.memoryBytes.has_value());
  assert_false(limits.memorySwapBytes.has_value());
  assert_false(limits.cpuMilli.has_value());
  assert_false(limits.cpuShares.has_value());
  assert_false(limits.pidsLimit.has_value());
  assert_false(limits.cpusetCpus.has_value());
  assert_false(limits.cpusetMems.has_value());
}

static void memory_limit_and_swap(void**) {
  Resources resources;
  resources.memoryLimit = 268435456;
  resources.memoryReservation = 134217728;
  ResourceLimits limits = limitsFrom(resources);
  assert_true(limits.memoryBytes.has_value());
  assert_int_equal(*limits.memoryBytes, 268435456);
  assert_false(limits.memorySwapBytes.has_value());

  resources.memorySwap = 536870912;
  limits = limitsFrom(resources);
  assert_int_equal(*limits.memoryBytes, 268435456);
  assert_true(limits.memorySwapBytes.has_value());
  assert_int_equal(*limits.memorySwapBytes, 536870912);

  // -1: unlimited swap, kept as such.
  resources.memorySwap = -1;
  limits = limitsFrom(resources);
  assert_true(limits.memorySwapBytes.has_value());
  assert_int_equal(*limits.memorySwapBytes, -1);
}

static void swap_only_with_a_memory_limit(void**) {
  Resources resources;
  resources.memorySwap = 536870912;
  ResourceLimits limits = limitsFrom(resources);
  assert_false(limits.memoryBytes.has_value());
  assert_false(limits.memorySwapBytes.has_value());

  resources.memoryLimit = -1;
  limits = limitsFrom(resources);
  assert_false(limits.memoryBytes.has_value());
  assert_false(limits.memorySwapBytes.has_value());
}

static void memory_limit_zero_or_negative_is_ignored(void**) {
  Resources resources;
  resources.memoryLimit = -1;
  assert_false(limitsFrom(resources).memoryBytes.has_value());
  resources.memoryLimit = 0;
  assert_false(limitsFrom(resources).memoryBytes.has_value());
  resources.memoryLimit = 1;
  assert_int_equal(*limitsFrom(resources).memoryBytes, 1);
}

static void cpu_quota_over_period_is_milli_cpus(void**) {
  Resources resources;
  resources.cpuQuota = 50000;
  resources.cpuPeriod = 100000;
  ResourceLimits limits = limitsFrom(resources);
  assert_true(limits.cpuMilli.has_value());
  assert_int_equal(*limits.cpuMilli, 500);

  resources.cpuQuota = 150000;
  assert_int_equal(*limitsFrom(resources).cpuMilli, 1500);

  resources.cpuQuota = 20000;
  resources.cpuPeriod = 10000;
  assert_int_equal(*limitsFrom(resources).cpuMilli, 2000);

  // No period, or period 0: the kernel's default of 100 ms.
  resources.cpuQuota = 25000;
  resources.cpuPeriod.reset();
  assert_int_equal(*limitsFrom(resources).cpuMilli, 250);
  resources.cpuPeriod = 0;
  assert_int_equal(*limitsFrom(resources).cpuMilli, 250);

  // A tiny quota still limits, by at least one milli-CPU.
  resources.cpuQuota = 1;
  resources.cpuPeriod = 1000000;
  assert_int_equal(*limitsFrom(resources).cpuMilli, 1);
}

static void cpu_quota_zero_or_negative_is_ignored(void**) {
  Resources resources;
  resources.cpuPeriod = 100000;
  resources.cpuQuota = -1;
  assert_false(limitsFrom(resources).cpuMilli.has_value());
  resources.cpuQuota = 0;
  assert_false(limitsFrom(resources).cpuMilli.has_value());
  // A period alone is no limit.
  resources.cpuQuota.reset();
  assert_false(limitsFrom(resources).cpuMilli.has_value());
}

static void cpu_shares_are_clamped_to_the_v1_range(void**) {
  Resources resources;
  resources.cpuShares = 512;
  assert_int_equal(*limitsFrom(resources).cpuShares, 512);
  resources.cpuShares = 1;
  assert_int_equal(*limitsFrom(resources).cpuShares, 2);
  resources.cpuShares = 2;
  assert_int_equal(*limitsFrom(resources).cpuShares, 2);
  resources.cpuShares = 262144;
  assert_int_equal(*limitsFrom(resources).cpuShares, 262144);
  resources.cpuShares = 1000000;
  assert_int_equal(*limitsFrom(resources).cpuShares, 262144);
  resources.cpuShares = 0;
  assert_false(limitsFrom(resources).cpuShares.has_value());
}

static void pids_limit_positive_only(void**) {
  Resources resources;
  resources.pidsLimit = 2048;
  ResourceLimits limits = limitsFrom(resources);
  assert_true(limits.pidsLimit.has_value());
  assert_int_equal(*limits.pidsLimit, 2048);
  resources.pidsLimit = -1;
  assert_false(limitsFrom(resources).pidsLimit.has_value());
  resources.pidsLimit = 0;
  assert_false(limitsFrom(resources).pidsLimit.has_value());
}

static void cpuset_cpus_and_mems(void**) {
  Resources resources;
  resources.cpusetCpus = "0-1,4";
  ResourceLimits limits = limitsFrom(resources);
  assert_string_equal(limits.cpusetCpus->c_str(), "0-1,4");
  assert_false(limits.cpusetMems.has_value());
  resources.cpusetMems = "0";
  limits = limitsFrom(resources);
  assert_string_equal(limits.cpusetCpus->c_str(), "0-1,4");
  assert_string_equal(limits.cpusetMems->c_str(), "0");
}

static void no_device_rules_allow_the_defaults_only(void**) {
  expectAllowList(deviceAllowList({}), {});
  expectAllowList(deviceAllowList({denyAll()}), {});
}

static void deny_all_then_allows_keeps_the_allows_and_the_defaults(void**) {
  auto allowed = deviceAllowList(
      {denyAll(), rule(true, 'c', 10, 229, "rwm"), rule(true, 'b', 8, std::nullopt, "r")});
  expectAllowList(allowed, {"c 10:229 rwm", "b 8:* r"});
}

static void deny_all_removes_earlier_allows(void**) {
  auto allowed = deviceAllowList(
      {rule(true, 'c', 10, 229), rule(true, 'b', 8, 0), denyAll(), rule(true, 'c', 10, 200, "rw")});
  expectAllowList(allowed, {"c 10:200 rw"});
}

static void a_deny_after_an_allow_removes_it(void**) {
  auto allowed = deviceAllowList(
      {denyAll(), rule(true, 'c', 10, 229), rule(true, 'c', 4, 1), rule(false, 'c', 10, 229)});
  expectAllowList(allowed, {"c 4:1 rwm"});

  // A deny of every minor of a major removes each of them; the other type is untouched.
  allowed =
      deviceAllowList({rule(true, 'c', 10, 229), rule(true, 'c', 10, 230), rule(true, 'b', 10, 229),
                       rule(true, 'c', 11, 0), rule(false, 'c', 10, std::nullopt)});
  expectAllowList(allowed, {"b 10:229 rwm", "c 11:0 rwm"});

  // An allow after the deny brings it back.
  allowed = deviceAllowList(
      {rule(true, 'c', 10, 229), rule(false, 'c', 10, 229), rule(true, 'c', 10, 229, "r")});
  expectAllowList(allowed, {"c 10:229 r"});
}

static void a_deny_of_another_device_keeps_the_allow(void**) {
  auto allowed = deviceAllowList({rule(true, 'c', 10, 229), rule(false, 'c', 10, 230),
                                  rule(false, 'b', 10, 229), rule(false, 'c', 11, 229)});
  expectAllowList(allowed, {"c 10:229 rwm"});
}

static void type_a_expands_to_char_and_block(void**) {
  auto allowed = deviceAllowList({rule(true, 'a', std::nullopt, std::nullopt, "rwm")});
  expectAllowList(allowed, {"c *:* rwm", "b *:* rwm"});

  allowed = deviceAllowList({rule(true, 'a', 7, std::nullopt, "r")});
  expectAllowList(allowed, {"c 7:* r", "b 7:* r"});

  // A type-a deny removes both.
  allowed = deviceAllowList({rule(true, 'c', 7, 1), rule(true, 'b', 7, 1), rule(true, 'c', 8, 1),
                             rule(false, 'a', 7, std::nullopt)});
  expectAllowList(allowed, {"c 8:1 rwm"});
}

static void a_default_node_allowed_again_is_listed_once(void**) {
  // /dev/null, as runc's default allows it: not repeated after the user's own rules.
  auto allowed = deviceAllowList({denyAll(), rule(true, 'c', 1, 3, "rwm")});
  std::vector<std::string> text = asText(allowed);
  std::size_t count = 0;
  for (const auto& each : text) count += each == "c 1:3 rwm";
  assert_int_equal(count, 1);
  assert_int_equal(allowed.size(), defaultDeviceRules().size());
  assert_string_equal(text[0].c_str(), "c 1:3 rwm");
}

static void default_nodes_survive_a_deny(void**) {
  // runc appends its /dev nodes after the bundle's rules, so a deny cannot take them away.
  auto allowed = deviceAllowList({denyAll(), rule(false, 'c', 1, 3), rule(false, 'c', 5, 0)});
  expectAllowList(allowed, {});
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(empty_cgroups_path_is_tandem_and_the_id),
      cmocka_unit_test(path_loses_its_leading_slash),
      cmocka_unit_test(path_is_cleaned_of_empty_and_dot_parts),
      cmocka_unit_test(path_may_not_climb),
      cmocka_unit_test(path_may_not_name_the_root),
      cmocka_unit_test(systemd_slice_prefix_name_is_a_scope_in_the_slice),
      cmocka_unit_test(systemd_nested_slices_are_expanded),
      cmocka_unit_test(systemd_empty_slice_is_system_slice_and_root_slice_is_the_root),
      cmocka_unit_test(systemd_form_is_refused_when_malformed),
      cmocka_unit_test(systemd_form_without_systemd_cgroup_is_a_plain_path),
      cmocka_unit_test(no_resources_no_limits),
      cmocka_unit_test(memory_limit_and_swap),
      cmocka_unit_test(swap_only_with_a_memory_limit),
      cmocka_unit_test(memory_limit_zero_or_negative_is_ignored),
      cmocka_unit_test(cpu_quota_over_period_is_milli_cpus),
      cmocka_unit_test(cpu_quota_zero_or_negative_is_ignored),
      cmocka_unit_test(cpu_shares_are_clamped_to_the_v1_range),
      cmocka_unit_test(pids_limit_positive_only),
      cmocka_unit_test(cpuset_cpus_and_mems),
      cmocka_unit_test(no_device_rules_allow_the_defaults_only),
      cmocka_unit_test(deny_all_then_allows_keeps_the_allows_and_the_defaults),
      cmocka_unit_test(deny_all_removes_earlier_allows),
      cmocka_unit_test(a_deny_after_an_allow_removes_it),
      cmocka_unit_test(a_deny_of_another_device_keeps_the_allow),
      cmocka_unit_test(type_a_expands_to_char_and_block),
      cmocka_unit_test(a_default_node_allowed_again_is_listed_once),
      cmocka_unit_test(default_nodes_survive_a_deny),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

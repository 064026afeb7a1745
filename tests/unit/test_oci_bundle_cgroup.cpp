// An OCI bundle's cgroup: where linux.cgroupsPath puts it (as a path, or systemd's
// "slice:prefix:name"), the limits linux.resources sets, and the device allowlist its ordered
// allow and deny rules leave.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/device_rules.h"
#include "container/oci/bundle_cgroup.h"
#include "tests/unit/unit_test.h"

using tandem::defaultDeviceRules;
using tandem::DeviceRule;
using tandem::ResourceLimits;
using tandem::toV1Rule;
using tandem::container::cgroupPathFor;
using tandem::container::deviceAllowList;
using tandem::container::limitsFrom;
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

void expectPathRefused(const std::string& cgroupsPath, bool systemd, const char* id = "c1") {
  auto path = cgroupPathFor(cgroupsPath, id, systemd);
  if (path.ok()) {
    fail_msg("\"%s\" (systemd %d) accepted as \"%s\"", cgroupsPath.c_str(), systemd, path->c_str());
  }
  if (path.error().message().find("cgroupsPath") == std::string::npos) {
    fail_msg("error \"%s\" does not name cgroupsPath", path.error().message().c_str());
  }
}

// The limits `resources` sets, failing the test if they are refused.
ResourceLimits limitsOf(const Resources& resources) {
  auto limits = limitsFrom(resources);
  if (!limits.ok()) {
    fail_msg("resources refused: %s", limits.error().message().c_str());
  }
  return *limits;
}

// `resources` must be refused with an error that names `field`.
void expectLimitsRefused(const Resources& resources, const char* field) {
  auto limits = limitsFrom(resources);
  if (limits.ok()) {
    fail_msg("resources accepted, expected a refusal naming %s", field);
  }
  if (limits.error().message().find(field) == std::string::npos) {
    fail_msg("error \"%s\" does not name %s", limits.error().message().c_str(), field);
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

// The allowlist `rules` leave, failing the test if they are refused.
std::vector<DeviceRule> allowListOf(const std::vector<DeviceCgroupRule>& rules) {
  auto allowed = deviceAllowList(rules);
  if (!allowed.ok()) {
    fail_msg("device rules refused: %s", allowed.error().message().c_str());
  }
  return *allowed;
}

// `rules` must be refused with an error that names the rule at `index` as
// "linux.resources.devices[index]".
void expectDevicesRefused(const std::vector<DeviceCgroupRule>& rules, std::size_t index) {
  std::string field = "linux.resources.devices[" + std::to_string(index) + "]";
  auto allowed = deviceAllowList(rules);
  if (allowed.ok()) {
    std::string shown;
    for (const auto& each : asText(*allowed)) shown += "[" + each + "] ";
    fail_msg("device rules accepted as %s, expected a refusal naming %s", shown.c_str(),
             field.c_str());
  }
  if (allowed.error().message().find(field) == std::string::npos) {
    fail_msg("error \"%s\" does not name %s", allowed.error().message().c_str(), field.c_str());
  }
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

static void systemd_name_with_slashes_may_not_climb_out_of_the_slice(void**) {
  // Without the check these gave "system.slice/p-x/../../../../../tmp/evil.scope" and
  // "system.slice/../../escape.slice": directories outside the cgroup tree.
  expectPathRefused("system.slice:p:x/../../../../../tmp/evil", true, "id");
  expectPathRefused("system.slice:p:../../escape.slice", true, "id");

  expectPathRefused("system.slice:p:a/b", true);
  expectPathRefused("system.slice:p:/abs", true);
  expectPathRefused("system.slice:p:abc/", true);
  expectPathRefused("system.slice::a/b", true);
}

static void systemd_prefix_may_hold_no_slash(void**) {
  expectPathRefused("system.slice:a/b:n", true);
  expectPathRefused("system.slice:../..:n", true);
  expectPathRefused("system.slice:/:n", true);
}

static void systemd_prefix_and_name_may_not_be_dot_or_dot_dot(void**) {
  expectPathRefused("system.slice:p:.", true);
  expectPathRefused("system.slice:p:..", true);
  expectPathRefused("system.slice::.", true);
  expectPathRefused("system.slice::..", true);
  expectPathRefused("system.slice:.:n", true);
  expectPathRefused("system.slice:..:n", true);
  // Dots inside a part are fine.
  expectPath("system.slice:p:a..b", true, "system.slice/p-a..b.scope");
  expectPath("system.slice:p.q:n", true, "system.slice/p.q-n.scope");
}

static void systemd_empty_name_is_refused(void**) {
  expectPathRefused("system.slice:p:", true);
  expectPathRefused("system.slice::", true);
  expectPathRefused("::", true);
}

static void systemd_malformed_slice_is_refused(void**) {
  expectPathRefused("-a.slice:p:n", true);
  expectPathRefused("a-.slice:p:n", true);
  expectPathRefused("a--b.slice:p:n", true);
  expectPathRefused(".slice:p:n", true);
  expectPathRefused("-.slice.slice:p:n", true);
  // Well-formed ones still expand.
  expectPath("a-b-c.slice:p:n", true, "a.slice/a-b.slice/a-b-c.slice/p-n.scope");
}

static void systemd_name_that_is_a_slice_is_used_as_is_when_well_formed(void**) {
  // As runc: a name ending in ".slice" is a slice in the parent, without the prefix.
  expectPath("system.slice:p:sub.slice", true, "system.slice/sub.slice");
  expectPathRefused("system.slice:p:-x.slice", true);
  expectPathRefused("system.slice:p:x-.slice", true);
  expectPathRefused("system.slice:p:a--b.slice", true);
  expectPathRefused("system.slice:p:.slice", true);
  expectPathRefused("system.slice::-.slice.slice", true);
}

static void systemd_form_without_systemd_cgroup_is_a_plain_path(void**) {
  expectPath("machine.slice:libpod:abc", false, "machine.slice:libpod:abc");
}

static void no_resources_no_limits(void**) {
  ResourceLimits limits = limitsOf(Resources{});
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
  ResourceLimits limits = limitsOf(resources);
  assert_true(limits.memoryBytes.has_value());
  assert_int_equal(*limits.memoryBytes, 268435456);
  assert_false(limits.memorySwapBytes.has_value());

  resources.memorySwap = 536870912;
  limits = limitsOf(resources);
  assert_int_equal(*limits.memoryBytes, 268435456);
  assert_true(limits.memorySwapBytes.has_value());
  assert_int_equal(*limits.memorySwapBytes, 536870912);

  // -1: unlimited swap, kept as such.
  resources.memorySwap = -1;
  limits = limitsOf(resources);
  assert_true(limits.memorySwapBytes.has_value());
  assert_int_equal(*limits.memorySwapBytes, -1);
}

static void swap_of_zero_is_no_setting(void**) {
  // As runc: 0 is no setting, the same as leaving memory.swap out.
  Resources resources;
  resources.memoryLimit = 268435456;
  resources.memorySwap = 0;
  ResourceLimits limits = limitsOf(resources);
  assert_true(limits.memoryBytes.has_value());
  assert_int_equal(*limits.memoryBytes, 268435456);
  assert_false(limits.memorySwapBytes.has_value());
}

static void swap_equal_to_the_memory_limit_is_kept(void**) {
  // Memory plus swap equal to memory: no swap at all, which is a valid setting.
  Resources resources;
  resources.memoryLimit = 268435456;
  resources.memorySwap = 268435456;
  ResourceLimits limits = limitsOf(resources);
  assert_int_equal(*limits.memoryBytes, 268435456);
  assert_true(limits.memorySwapBytes.has_value());
  assert_int_equal(*limits.memorySwapBytes, 268435456);
}

static void swap_below_the_memory_limit_is_refused(void**) {
  Resources resources;
  resources.memoryLimit = 268435456;
  resources.memorySwap = 268435455;
  expectLimitsRefused(resources, "linux.resources.memory.swap");
  resources.memorySwap = 1;
  expectLimitsRefused(resources, "linux.resources.memory.swap");
  // Negative other than -1 (unlimited) is below any limit too.
  resources.memorySwap = -2;
  expectLimitsRefused(resources, "linux.resources.memory.swap");
  resources.memorySwap = INT64_MIN;
  expectLimitsRefused(resources, "linux.resources.memory.swap");
}

static void swap_only_with_a_memory_limit(void**) {
  Resources resources;
  resources.memorySwap = 536870912;
  ResourceLimits limits = limitsOf(resources);
  assert_false(limits.memoryBytes.has_value());
  assert_false(limits.memorySwapBytes.has_value());

  resources.memoryLimit = -1;
  limits = limitsOf(resources);
  assert_false(limits.memoryBytes.has_value());
  assert_false(limits.memorySwapBytes.has_value());
}

static void memory_limit_zero_or_negative_is_ignored(void**) {
  Resources resources;
  resources.memoryLimit = -1;
  assert_false(limitsOf(resources).memoryBytes.has_value());
  resources.memoryLimit = 0;
  assert_false(limitsOf(resources).memoryBytes.has_value());
  resources.memoryLimit = 1;
  assert_int_equal(*limitsOf(resources).memoryBytes, 1);
}

static void cpu_quota_over_period_is_milli_cpus(void**) {
  Resources resources;
  resources.cpuQuota = 50000;
  resources.cpuPeriod = 100000;
  ResourceLimits limits = limitsOf(resources);
  assert_true(limits.cpuMilli.has_value());
  assert_int_equal(*limits.cpuMilli, 500);

  resources.cpuQuota = 150000;
  assert_int_equal(*limitsOf(resources).cpuMilli, 1500);

  resources.cpuQuota = 20000;
  resources.cpuPeriod = 10000;
  assert_int_equal(*limitsOf(resources).cpuMilli, 2000);

  // No period, or period 0: the kernel's default of 100 ms.
  resources.cpuQuota = 25000;
  resources.cpuPeriod.reset();
  assert_int_equal(*limitsOf(resources).cpuMilli, 250);
  resources.cpuPeriod = 0;
  assert_int_equal(*limitsOf(resources).cpuMilli, 250);

  // A tiny quota still limits, by at least one milli-CPU.
  resources.cpuQuota = 1;
  resources.cpuPeriod = 1000000;
  assert_int_equal(*limitsOf(resources).cpuMilli, 1);
}

static void cpu_quota_zero_or_negative_is_ignored(void**) {
  Resources resources;
  resources.cpuPeriod = 100000;
  resources.cpuQuota = -1;
  assert_false(limitsOf(resources).cpuMilli.has_value());
  resources.cpuQuota = 0;
  assert_false(limitsOf(resources).cpuMilli.has_value());
  // A period alone is no limit.
  resources.cpuQuota.reset();
  assert_false(limitsOf(resources).cpuMilli.has_value());
}

static void cpu_shares_are_clamped_to_the_v1_range(void**) {
  Resources resources;
  resources.cpuShares = 512;
  assert_int_equal(*limitsOf(resources).cpuShares, 512);
  resources.cpuShares = 1;
  assert_int_equal(*limitsOf(resources).cpuShares, 2);
  resources.cpuShares = 2;
  assert_int_equal(*limitsOf(resources).cpuShares, 2);
  resources.cpuShares = 262144;
  assert_int_equal(*limitsOf(resources).cpuShares, 262144);
  resources.cpuShares = 1000000;
  assert_int_equal(*limitsOf(resources).cpuShares, 262144);
  resources.cpuShares = 0;
  assert_false(limitsOf(resources).cpuShares.has_value());
}

static void pids_limit_positive_only(void**) {
  Resources resources;
  resources.pidsLimit = 2048;
  ResourceLimits limits = limitsOf(resources);
  assert_true(limits.pidsLimit.has_value());
  assert_int_equal(*limits.pidsLimit, 2048);
  resources.pidsLimit = -1;
  assert_false(limitsOf(resources).pidsLimit.has_value());
  resources.pidsLimit = 0;
  assert_false(limitsOf(resources).pidsLimit.has_value());
}

static void cpuset_cpus_and_mems(void**) {
  Resources resources;
  resources.cpusetCpus = "0-1,4";
  ResourceLimits limits = limitsOf(resources);
  assert_string_equal(limits.cpusetCpus->c_str(), "0-1,4");
  assert_false(limits.cpusetMems.has_value());
  resources.cpusetMems = "0";
  limits = limitsOf(resources);
  assert_string_equal(limits.cpusetCpus->c_str(), "0-1,4");
  assert_string_equal(limits.cpusetMems->c_str(), "0");
}

static void no_device_rules_allow_the_defaults_only(void**) {
  expectAllowList(allowListOf({}), {});
  expectAllowList(allowListOf({denyAll()}), {});
}

static void deny_all_then_allows_keeps_the_allows_and_the_defaults(void**) {
  auto allowed = allowListOf(
      {denyAll(), rule(true, 'c', 10, 229, "rwm"), rule(true, 'b', 8, std::nullopt, "r")});
  expectAllowList(allowed, {"c 10:229 rwm", "b 8:* r"});
}

static void deny_all_removes_earlier_allows(void**) {
  auto allowed = allowListOf(
      {rule(true, 'c', 10, 229), rule(true, 'b', 8, 0), denyAll(), rule(true, 'c', 10, 200, "rw")});
  expectAllowList(allowed, {"c 10:200 rw"});
}

static void a_deny_after_an_allow_removes_it(void**) {
  auto allowed = allowListOf(
      {denyAll(), rule(true, 'c', 10, 229), rule(true, 'c', 4, 1), rule(false, 'c', 10, 229)});
  expectAllowList(allowed, {"c 4:1 rwm"});

  // A deny of every minor of a major removes each of them; the other type is untouched.
  allowed =
      allowListOf({rule(true, 'c', 10, 229), rule(true, 'c', 10, 230), rule(true, 'b', 10, 229),
                   rule(true, 'c', 11, 0), rule(false, 'c', 10, std::nullopt)});
  expectAllowList(allowed, {"b 10:229 rwm", "c 11:0 rwm"});

  // An allow after the deny brings it back.
  allowed = allowListOf(
      {rule(true, 'c', 10, 229), rule(false, 'c', 10, 229), rule(true, 'c', 10, 229, "r")});
  expectAllowList(allowed, {"c 10:229 r"});
}

static void a_deny_of_some_access_letters_leaves_the_others(void**) {
  auto allowed = allowListOf({rule(true, 'c', 10, 229, "rwm"), rule(false, 'c', 10, 229, "w")});
  expectAllowList(allowed, {"c 10:229 rm"});

  // A deny covering several allows takes its letters from each of them.
  allowed = allowListOf({rule(true, 'c', 10, 229, "rwm"), rule(true, 'c', 10, 230, "rw"),
                         rule(true, 'b', 8, 0, "rwm"), rule(false, 'c', 10, std::nullopt, "rm")});
  expectAllowList(allowed, {"c 10:229 w", "c 10:230 w", "b 8:0 rwm"});

  // A type-a deny of every device takes the letters of both types.
  allowed = allowListOf({rule(true, 'c', 10, 229, "rwm"), rule(true, 'b', 8, 0, "rw"),
                         rule(false, 'a', std::nullopt, std::nullopt, "w")});
  expectAllowList(allowed, {"c 10:229 rm", "b 8:0 r"});

  // Letters the allow never had change nothing.
  allowed = allowListOf({rule(true, 'c', 10, 229, "r"), rule(false, 'c', 10, 229, "wm")});
  expectAllowList(allowed, {"c 10:229 r"});
}

static void an_allow_left_with_no_access_letters_disappears(void**) {
  auto allowed = allowListOf({rule(true, 'c', 10, 229, "rw"), rule(true, 'c', 4, 1, "r"),
                              rule(false, 'c', 10, 229, "r"), rule(false, 'c', 10, 229, "w")});
  expectAllowList(allowed, {"c 4:1 r"});

  allowed =
      allowListOf({rule(true, 'c', 10, 229, "rw"), rule(false, 'c', 10, std::nullopt, "rwm")});
  expectAllowList(allowed, {});
}

static void a_deny_of_part_of_an_allow_is_refused(void**) {
  // Allowing every device and denying the host's first disk cannot be an allowlist: refused
  // rather than leaving /dev/sda usable (or every other device unusable).
  expectDevicesRefused(
      {rule(true, 'a', std::nullopt, std::nullopt, "rwm"), rule(false, 'b', 8, 0, "rwm")}, 1);
  // A deny of one minor out of an allowed major, even of one shared letter.
  expectDevicesRefused(
      {denyAll(), rule(true, 'c', 10, std::nullopt, "rw"), rule(false, 'c', 10, 229, "w")}, 2);
  // Wildcards on different sides: the deny names c *:229, the allow c 10:*.
  expectDevicesRefused(
      {rule(true, 'c', 10, std::nullopt, "rwm"), rule(false, 'c', std::nullopt, 229, "rwm")}, 1);
  // The index is the refused deny's, after rules that were applied.
  expectDevicesRefused({rule(true, 'c', 10, 229), rule(true, 'c', 4, std::nullopt),
                        rule(false, 'c', 10, 229), rule(false, 'c', 4, 1, "r")},
                       3);
}

static void a_deny_of_part_of_an_allow_sharing_no_letter_is_accepted(void**) {
  // The deny takes nothing the allow gives, so the allowlist is the allow alone.
  auto allowed =
      allowListOf({rule(true, 'c', 10, std::nullopt, "r"), rule(false, 'c', 10, 229, "w")});
  expectAllowList(allowed, {"c 10:* r"});
}

static void a_deny_of_another_device_keeps_the_allow(void**) {
  auto allowed = allowListOf({rule(true, 'c', 10, 229), rule(false, 'c', 10, 230),
                              rule(false, 'b', 10, 229), rule(false, 'c', 11, 229)});
  expectAllowList(allowed, {"c 10:229 rwm"});
}

static void type_a_expands_to_char_and_block(void**) {
  auto allowed = allowListOf({rule(true, 'a', std::nullopt, std::nullopt, "rwm")});
  expectAllowList(allowed, {"c *:* rwm", "b *:* rwm"});

  allowed = allowListOf({rule(true, 'a', 7, std::nullopt, "r")});
  expectAllowList(allowed, {"c 7:* r", "b 7:* r"});

  // A type-a deny removes both.
  allowed = allowListOf({rule(true, 'c', 7, 1), rule(true, 'b', 7, 1), rule(true, 'c', 8, 1),
                         rule(false, 'a', 7, std::nullopt)});
  expectAllowList(allowed, {"c 8:1 rwm"});
}

static void a_default_node_allowed_again_is_listed_once(void**) {
  // /dev/null, as runc's default allows it: not repeated after the user's own rules.
  auto allowed = allowListOf({denyAll(), rule(true, 'c', 1, 3, "rwm")});
  std::vector<std::string> text = asText(allowed);
  std::size_t count = 0;
  for (const auto& each : text) count += each == "c 1:3 rwm";
  assert_int_equal(count, 1);
  assert_int_equal(allowed.size(), defaultDeviceRules().size());
  assert_string_equal(text[0].c_str(), "c 1:3 rwm");
}

static void default_nodes_survive_a_deny(void**) {
  // runc appends its /dev nodes after the bundle's rules, so a deny cannot take them away.
  auto allowed = allowListOf({denyAll(), rule(false, 'c', 1, 3), rule(false, 'c', 5, 0)});
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
      cmocka_unit_test(systemd_name_with_slashes_may_not_climb_out_of_the_slice),
      cmocka_unit_test(systemd_prefix_may_hold_no_slash),
      cmocka_unit_test(systemd_prefix_and_name_may_not_be_dot_or_dot_dot),
      cmocka_unit_test(systemd_empty_name_is_refused),
      cmocka_unit_test(systemd_malformed_slice_is_refused),
      cmocka_unit_test(systemd_name_that_is_a_slice_is_used_as_is_when_well_formed),
      cmocka_unit_test(systemd_form_without_systemd_cgroup_is_a_plain_path),
      cmocka_unit_test(no_resources_no_limits),
      cmocka_unit_test(memory_limit_and_swap),
      cmocka_unit_test(swap_of_zero_is_no_setting),
      cmocka_unit_test(swap_equal_to_the_memory_limit_is_kept),
      cmocka_unit_test(swap_below_the_memory_limit_is_refused),
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
      cmocka_unit_test(a_deny_of_some_access_letters_leaves_the_others),
      cmocka_unit_test(an_allow_left_with_no_access_letters_disappears),
      cmocka_unit_test(a_deny_of_part_of_an_allow_is_refused),
      cmocka_unit_test(a_deny_of_part_of_an_allow_sharing_no_letter_is_accepted),
      cmocka_unit_test(a_deny_of_another_device_keeps_the_allow),
      cmocka_unit_test(type_a_expands_to_char_and_block),
      cmocka_unit_test(a_default_node_allowed_again_is_listed_once),
      cmocka_unit_test(default_nodes_survive_a_deny),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

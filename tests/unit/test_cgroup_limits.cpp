// The cgroup files each limit becomes, for v1 and v2, in the order they must be written.
#include <string>
#include <vector>

#include "common/cgroup_limits.h"
#include "common/device_rules.h"
#include "tests/unit/unit_test.h"

using tandem::CgroupWrite;
using tandem::cpuWeightFromShares;
using tandem::ResourceLimits;
using tandem::v1DeviceRules;
using tandem::v1LimitWrites;
using tandem::v2LimitWrites;

namespace {

// The index of the write to `file`, failing the test if there is none or more than one.
std::size_t indexOf(const std::vector<CgroupWrite>& writes, const char* file) {
  std::size_t found = writes.size();
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (writes[i].file == file) {
      if (found != writes.size()) {
        fail_msg("%s is written twice", file);
      }
      found = i;
    }
  }
  if (found == writes.size()) {
    fail_msg("%s is not written", file);
  }
  return found;
}

const CgroupWrite& writeOf(const std::vector<CgroupWrite>& writes, const char* file) {
  return writes[indexOf(writes, file)];
}

void expectWrite(const std::vector<CgroupWrite>& writes, const char* controller, const char* file,
                 const char* value, bool optional = false) {
  const CgroupWrite& write = writeOf(writes, file);
  assert_string_equal(write.controller.c_str(), controller);
  assert_string_equal(write.value.c_str(), value);
  if (write.optional != optional) {
    fail_msg("%s: optional is %d, expected %d", file, write.optional, optional);
  }
}

bool writes(const std::vector<CgroupWrite>& all, const char* file) {
  for (const auto& write : all) {
    if (write.file == file) {
      return true;
    }
  }
  return false;
}

}  // namespace

static void no_limits_write_nothing(void**) {
  assert_true(v1LimitWrites(ResourceLimits{}).empty());
  assert_true(v2LimitWrites(ResourceLimits{}).empty());
}

static void v1_memory_without_swap_denies_swap_optionally(void**) {
  ResourceLimits limits;
  limits.memoryBytes = 256ull << 20;
  auto all = v1LimitWrites(limits);
  assert_int_equal(all.size(), 2);
  expectWrite(all, "memory", "memory.limit_in_bytes", "268435456");
  // No --memory-swap: memsw equal to memory means no swap, skipped without swap accounting.
  expectWrite(all, "memory", "memory.memsw.limit_in_bytes", "268435456", true);
  assert_true(indexOf(all, "memory.limit_in_bytes") < indexOf(all, "memory.memsw.limit_in_bytes"));
}

static void v1_memory_with_swap(void**) {
  ResourceLimits limits;
  limits.memoryBytes = 256ull << 20;
  limits.memorySwapBytes = 1ll << 30;
  auto all = v1LimitWrites(limits);
  expectWrite(all, "memory", "memory.limit_in_bytes", "268435456");
  // Asked for explicitly: a kernel without swap accounting must fail loudly, not skip it.
  expectWrite(all, "memory", "memory.memsw.limit_in_bytes", "1073741824", false);
  assert_true(indexOf(all, "memory.limit_in_bytes") < indexOf(all, "memory.memsw.limit_in_bytes"));

  limits.memorySwapBytes = -1;
  all = v1LimitWrites(limits);
  expectWrite(all, "memory", "memory.memsw.limit_in_bytes", "max", false);
  assert_true(indexOf(all, "memory.limit_in_bytes") < indexOf(all, "memory.memsw.limit_in_bytes"));
}

static void v1_memory_comes_before_memsw_whatever_else_is_set(void**) {
  ResourceLimits limits;
  limits.memoryBytes = 64ull << 20;
  limits.memorySwapBytes = 128ll << 20;
  limits.cpuMilli = 500;
  limits.cpuShares = 100;
  limits.pidsLimit = 10;
  limits.cpusetCpus = "0";
  limits.cpusetMems = "0";
  auto all = v1LimitWrites(limits);
  assert_int_equal(all.size(), 8);
  assert_true(indexOf(all, "memory.limit_in_bytes") < indexOf(all, "memory.memsw.limit_in_bytes"));
  // cpuset.mems and cpuset.cpus must be set before anything can join a v1 cpuset.
  assert_true(indexOf(all, "cpuset.cpus") < 2);
  assert_true(indexOf(all, "cpuset.mems") < 2);
  for (const auto& write : all) {
    assert_false(write.optional);
  }
}

static void v2_memory_and_swap(void**) {
  ResourceLimits limits;
  limits.memoryBytes = 256ull << 20;
  auto all = v2LimitWrites(limits);
  assert_int_equal(all.size(), 2);
  expectWrite(all, "memory", "memory.max", "268435456");
  expectWrite(all, "memory", "memory.swap.max", "0", true);

  // v2 counts swap alone: memory+swap of 1 GiB with 256 MiB of memory is 768 MiB of swap.
  limits.memorySwapBytes = 1ll << 30;
  all = v2LimitWrites(limits);
  expectWrite(all, "memory", "memory.swap.max", "805306368", false);

  limits.memorySwapBytes = 256ll << 20;
  all = v2LimitWrites(limits);
  expectWrite(all, "memory", "memory.swap.max", "0", false);

  limits.memorySwapBytes = -1;
  all = v2LimitWrites(limits);
  expectWrite(all, "memory", "memory.swap.max", "max", false);
  assert_false(writes(all, "memory.memsw.limit_in_bytes"));
  assert_false(writes(v1LimitWrites(limits), "memory.max"));
}

static void swap_alone_writes_nothing(void**) {
  // validate() refuses swap without memory; the writers simply have nothing to base it on.
  ResourceLimits limits;
  limits.memorySwapBytes = -1;
  assert_true(v1LimitWrites(limits).empty());
  assert_true(v2LimitWrites(limits).empty());
}

static void cpu_milli_becomes_a_quota(void**) {
  const struct {
    std::uint64_t milli;
    const char* quota;
  } cases[] = {
      {1500, "150000"}, {1000, "100000"}, {10, "1000"}, {250, "25000"}, {64000, "6400000"}};
  for (const auto& c : cases) {
    ResourceLimits limits;
    limits.cpuMilli = c.milli;
    auto v1 = v1LimitWrites(limits);
    assert_int_equal(v1.size(), 2);
    expectWrite(v1, "cpu", "cpu.cfs_period_us", "100000");
    expectWrite(v1, "cpu", "cpu.cfs_quota_us", c.quota);
    auto v2 = v2LimitWrites(limits);
    assert_int_equal(v2.size(), 1);
    expectWrite(v2, "cpu", "cpu.max", (std::string(c.quota) + " 100000").c_str());
  }
}

static void shares_become_weight(void**) {
  // runc's and crun's mapping of [2, 262144] onto [1, 10000].
  assert_int_equal(cpuWeightFromShares(2), 1);
  assert_int_equal(cpuWeightFromShares(262144), 10000);
  assert_int_equal(cpuWeightFromShares(1024), 39);
  assert_int_equal(cpuWeightFromShares(3), 1);
  assert_int_equal(cpuWeightFromShares(262143), 9999);
  for (std::uint64_t shares = 2; shares < 262144; shares += 997) {
    assert_true(cpuWeightFromShares(shares) <= cpuWeightFromShares(shares + 997));
    assert_in_range(cpuWeightFromShares(shares), 1, 10000);
  }

  ResourceLimits limits;
  limits.cpuShares = 2;
  expectWrite(v1LimitWrites(limits), "cpu", "cpu.shares", "2");
  expectWrite(v2LimitWrites(limits), "cpu", "cpu.weight", "1");
  limits.cpuShares = 262144;
  expectWrite(v1LimitWrites(limits), "cpu", "cpu.shares", "262144");
  expectWrite(v2LimitWrites(limits), "cpu", "cpu.weight", "10000");
  limits.cpuShares = 1024;
  expectWrite(v2LimitWrites(limits), "cpu", "cpu.weight", "39");
  assert_false(writes(v2LimitWrites(limits), "cpu.shares"));
  assert_false(writes(v1LimitWrites(limits), "cpu.weight"));
}

static void pids_limit(void**) {
  ResourceLimits limits;
  limits.pidsLimit = -1;
  expectWrite(v1LimitWrites(limits), "pids", "pids.max", "max");
  expectWrite(v2LimitWrites(limits), "pids", "pids.max", "max");
  limits.pidsLimit = 100;
  expectWrite(v1LimitWrites(limits), "pids", "pids.max", "100");
  expectWrite(v2LimitWrites(limits), "pids", "pids.max", "100");
  limits.pidsLimit = 1;
  expectWrite(v2LimitWrites(limits), "pids", "pids.max", "1");
}

static void cpuset(void**) {
  ResourceLimits limits;
  limits.cpusetCpus = "0-3,7";
  auto v1 = v1LimitWrites(limits);
  assert_int_equal(v1.size(), 1);
  expectWrite(v1, "cpuset", "cpuset.cpus", "0-3,7");
  auto v2 = v2LimitWrites(limits);
  assert_int_equal(v2.size(), 1);
  expectWrite(v2, "cpuset", "cpuset.cpus", "0-3,7");

  limits.cpusetMems = "0,1";
  expectWrite(v1LimitWrites(limits), "cpuset", "cpuset.mems", "0,1");
  expectWrite(v2LimitWrites(limits), "cpuset", "cpuset.mems", "0,1");

  limits.cpusetCpus.reset();
  v1 = v1LimitWrites(limits);
  assert_int_equal(v1.size(), 1);
  assert_string_equal(v1[0].file.c_str(), "cpuset.mems");
}

static void only_implied_limits_are_optional(void**) {
  ResourceLimits limits;
  limits.memoryBytes = 64ull << 20;
  limits.cpuMilli = 500;
  limits.cpuShares = 100;
  limits.pidsLimit = 10;
  limits.cpusetCpus = "0";
  limits.cpusetMems = "0";
  for (const auto& all : {v1LimitWrites(limits), v2LimitWrites(limits)}) {
    int optional = 0;
    for (const auto& write : all) {
      assert_false(write.controller.empty());
      assert_false(write.value.empty());
      assert_true(write.file.rfind(write.controller + ".", 0) == 0);
      if (write.optional) {
        ++optional;
        assert_true(write.file == "memory.memsw.limit_in_bytes" || write.file == "memory.swap.max");
      }
    }
    assert_int_equal(optional, 1);
  }
}

static void v1_device_rules_deny_all_first(void**) {
  auto rules = v1DeviceRules();
  assert_true(rules.size() >= 2);
  assert_string_equal(rules[0].controller.c_str(), "devices");
  assert_string_equal(rules[0].file.c_str(), "devices.deny");
  assert_string_equal(rules[0].value.c_str(), "a");
  assert_false(rules[0].optional);
  const auto& defaults = tandem::defaultDeviceRules();
  assert_int_equal(rules.size(), defaults.size() + 1);
  for (std::size_t i = 1; i < rules.size(); ++i) {
    assert_string_equal(rules[i].controller.c_str(), "devices");
    assert_string_equal(rules[i].file.c_str(), "devices.allow");
    assert_string_equal(rules[i].value.c_str(), tandem::toV1Rule(defaults[i - 1]).c_str());
    assert_false(rules[i].optional);
    // Nothing after the deny may be a blanket allow.
    assert_string_not_equal(rules[i].value.c_str(), "a");
    assert_string_not_equal(rules[i].value.c_str(), "a *:* rwm");
  }
  bool allowsNull = false;
  for (const auto& rule : rules) {
    allowsNull = allowsNull || rule.value == "c 1:3 rwm";
  }
  assert_true(allowsNull);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(no_limits_write_nothing),
      cmocka_unit_test(v1_memory_without_swap_denies_swap_optionally),
      cmocka_unit_test(v1_memory_with_swap),
      cmocka_unit_test(v1_memory_comes_before_memsw_whatever_else_is_set),
      cmocka_unit_test(v2_memory_and_swap),
      cmocka_unit_test(swap_alone_writes_nothing),
      cmocka_unit_test(cpu_milli_becomes_a_quota),
      cmocka_unit_test(shares_become_weight),
      cmocka_unit_test(pids_limit),
      cmocka_unit_test(cpuset),
      cmocka_unit_test(only_implied_limits_are_optional),
      cmocka_unit_test(v1_device_rules_deny_all_first),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

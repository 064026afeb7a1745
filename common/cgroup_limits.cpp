#include "common/cgroup_limits.h"

#include "common/device_rules.h"

namespace tandem {

std::uint64_t cpuWeightFromShares(std::uint64_t shares) {
  // Maps [2, 262144] onto [1, 10000] linearly.
  return 1 + ((shares - 2) * 9999) / 262142;
}

namespace {

std::string maxOr(std::int64_t value) {
  return value < 0 ? std::string("max") : std::to_string(value);
}

// The cpuset files have the same names and syntax in v1 and v2.
std::vector<CgroupWrite> cpusetWrites(const ResourceLimits& limits) {
  std::vector<CgroupWrite> writes;
  if (limits.cpusetCpus) {
    writes.push_back({"cpuset", "cpuset.cpus", *limits.cpusetCpus});
  }
  if (limits.cpusetMems) {
    writes.push_back({"cpuset", "cpuset.mems", *limits.cpusetMems});
  }
  return writes;
}

}  // namespace

std::vector<CgroupWrite> v1LimitWrites(const ResourceLimits& limits) {
  std::vector<CgroupWrite> writes = cpusetWrites(limits);
  if (limits.memoryBytes) {
    // A new cgroup starts unlimited, so memory goes first: memsw may never drop below it.
    writes.push_back({"memory", "memory.limit_in_bytes", std::to_string(*limits.memoryBytes)});
    if (limits.memorySwapBytes) {
      writes.push_back({"memory", "memory.memsw.limit_in_bytes", maxOr(*limits.memorySwapBytes)});
    } else {
      writes.push_back(
          {"memory", "memory.memsw.limit_in_bytes", std::to_string(*limits.memoryBytes), true});
    }
  }
  if (limits.cpuMilli) {
    writes.push_back({"cpu", "cpu.cfs_period_us", std::to_string(kCpuPeriodMicros)});
    writes.push_back(
        {"cpu", "cpu.cfs_quota_us", std::to_string(*limits.cpuMilli * kCpuPeriodMicros / 1000)});
  }
  if (limits.cpuShares) {
    writes.push_back({"cpu", "cpu.shares", std::to_string(*limits.cpuShares)});
  }
  if (limits.pidsLimit) {
    writes.push_back({"pids", "pids.max", maxOr(*limits.pidsLimit)});
  }
  return writes;
}

std::vector<CgroupWrite> v2LimitWrites(const ResourceLimits& limits) {
  std::vector<CgroupWrite> writes = cpusetWrites(limits);
  if (limits.memoryBytes) {
    writes.push_back({"memory", "memory.max", std::to_string(*limits.memoryBytes)});
    // v2 limits swap on its own, where v1 limits memory plus swap.
    if (!limits.memorySwapBytes) {
      writes.push_back({"memory", "memory.swap.max", "0", true});
    } else if (*limits.memorySwapBytes < 0) {
      writes.push_back({"memory", "memory.swap.max", "max"});
    } else {
      writes.push_back({"memory", "memory.swap.max",
                        std::to_string(static_cast<std::uint64_t>(*limits.memorySwapBytes) -
                                       *limits.memoryBytes)});
    }
  }
  if (limits.cpuMilli) {
    writes.push_back({"cpu", "cpu.max",
                      std::to_string(*limits.cpuMilli * kCpuPeriodMicros / 1000) + " " +
                          std::to_string(kCpuPeriodMicros)});
  }
  if (limits.cpuShares) {
    writes.push_back({"cpu", "cpu.weight", std::to_string(cpuWeightFromShares(*limits.cpuShares))});
  }
  if (limits.pidsLimit) {
    writes.push_back({"pids", "pids.max", maxOr(*limits.pidsLimit)});
  }
  return writes;
}

std::vector<CgroupWrite> v1DeviceRules(const std::vector<DeviceRule>& allowed) {
  std::vector<CgroupWrite> rules{{"devices", "devices.deny", "a"}};
  for (const auto& rule : allowed) {
    rules.push_back({"devices", "devices.allow", toV1Rule(rule)});
  }
  return rules;
}

}  // namespace tandem

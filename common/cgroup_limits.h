// Which cgroup files a set of limits becomes. Pure, so each backend's arithmetic is unit-tested
// without a cgroup filesystem.
#pragma once

#include <string>
#include <vector>

#include "common/device_rules.h"
#include "common/workload.h"

namespace tandem {

struct CgroupWrite {
  std::string controller;  // v1 hierarchy the file lives in; for v2 the controller it belongs to
  std::string file;
  std::string value;
  // A limit the user did not ask for explicitly (e.g. "no swap" implied by --memory) is skipped
  // when the kernel lacks the file, such as memory.memsw.* without swap accounting.
  bool optional = false;
};

inline constexpr unsigned kCpuPeriodMicros = 100000;

std::vector<CgroupWrite> v1LimitWrites(const ResourceLimits& limits);
std::vector<CgroupWrite> v2LimitWrites(const ResourceLimits& limits);

// v1's devices controller: deny everything, then allow `allowed`.
std::vector<CgroupWrite> v1DeviceRules(
    const std::vector<DeviceRule>& allowed = defaultDeviceRules());

// cgroup v2's cpu.weight for v1 shares, with the mapping runc and crun use.
std::uint64_t cpuWeightFromShares(std::uint64_t shares);

}  // namespace tandem

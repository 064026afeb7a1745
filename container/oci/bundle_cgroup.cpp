#include "container/oci/bundle_cgroup.h"

#include <algorithm>

namespace tandem::container {

namespace {

// A unit name's part as systemd takes it: no '/', not "." or "..", nothing that would lead a
// path out of the cgroup tree.
Status checkUnitPart(const std::string& part, const char* what, const std::string& cgroupsPath) {
  if (part.find('/') != std::string::npos || part == "." || part == "..") {
    return Error("cgroupsPath: the " + std::string(what) + " of \"" + cgroupsPath +
                 "\" may hold no '/' and may not be . or ..");
  }
  return okStatus();
}

// systemd's slice naming: "a-b-c.slice" lives in "a.slice/a-b.slice/a-b-c.slice".
Result<std::string> expandSlice(const std::string& slice) {
  if (slice.empty() || slice == "-.slice") return std::string();
  std::string stem = slice.ends_with(".slice") ? slice.substr(0, slice.size() - 6) : "";
  if (stem.empty() || slice.find('/') != std::string::npos || stem.front() == '-' ||
      stem.back() == '-' || stem.find("--") != std::string::npos) {
    return Error("cgroupsPath: \"" + slice +
                 "\" is not a systemd slice name (NAME.slice, its parts joined by single dashes)");
  }
  std::string path;
  for (std::size_t dash = stem.find('-'); dash != std::string::npos;
       dash = stem.find('-', dash + 1)) {
    path += stem.substr(0, dash) + ".slice/";
  }
  return path + slice;
}

std::vector<DeviceRule> expand(const oci::DeviceCgroupRule& rule) {
  std::vector<DeviceRule> out;
  std::string types = rule.type == 'a' ? "cb" : std::string(1, rule.type);
  for (char type : types) {
    out.push_back(DeviceRule{type, static_cast<int>(rule.major.value_or(-1)),
                             static_cast<int>(rule.minor.value_or(-1)), rule.access});
  }
  return out;
}

// Whether every device `allowed` names is one `deny` names too.
bool covers(const DeviceRule& deny, const DeviceRule& allowed) {
  return deny.type == allowed.type && (deny.major == -1 || deny.major == allowed.major) &&
         (deny.minor == -1 || deny.minor == allowed.minor);
}

// Whether some device is named by both.
bool overlaps(const DeviceRule& a, const DeviceRule& b) {
  return a.type == b.type && (a.major == -1 || b.major == -1 || a.major == b.major) &&
         (a.minor == -1 || b.minor == -1 || a.minor == b.minor);
}

bool sharesAccess(const DeviceRule& a, const DeviceRule& b) {
  return std::any_of(a.access.begin(), a.access.end(),
                     [&](char letter) { return b.access.find(letter) != std::string::npos; });
}

}  // namespace

Result<std::string> cgroupPathFor(const std::string& cgroupsPath, const std::string& id,
                                  bool systemdCgroup) {
  if (cgroupsPath.empty()) return "tandem/" + id;
  if (systemdCgroup) {
    auto first = cgroupsPath.find(':');
    auto second = first == std::string::npos ? first : cgroupsPath.find(':', first + 1);
    if (second == std::string::npos || cgroupsPath.find(':', second + 1) != std::string::npos) {
      return Error("cgroupsPath: with --systemd-cgroup it must be \"slice:prefix:name\", got \"" +
                   cgroupsPath + "\"");
    }
    std::string slice = cgroupsPath.substr(0, first);
    std::string prefix = cgroupsPath.substr(first + 1, second - first - 1);
    std::string name = cgroupsPath.substr(second + 1);
    TANDEM_TRY(checkUnitPart(prefix, "prefix", cgroupsPath));
    TANDEM_TRY(checkUnitPart(name, "name", cgroupsPath));
    if (name.empty()) return Error("cgroupsPath: \"" + cgroupsPath + "\" names no unit");
    if (name.ends_with(".slice")) TANDEM_TRY(expandSlice(name));
    TANDEM_ASSIGN_OR_RETURN(std::string parent,
                            expandSlice(slice.empty() ? "system.slice" : slice));
    std::string unit =
        name.ends_with(".slice") ? name : (prefix.empty() ? "" : prefix + "-") + name + ".scope";
    return parent.empty() ? unit : parent + "/" + unit;
  }
  std::string path;
  for (std::size_t start = 0; start <= cgroupsPath.size();) {
    std::size_t slash = std::min(cgroupsPath.find('/', start), cgroupsPath.size());
    std::string part = cgroupsPath.substr(start, slash - start);
    if (part == "..") {
      return Error("cgroupsPath: \"" + cgroupsPath + "\" may not climb with \"..\"");
    }
    if (!part.empty() && part != ".") path += (path.empty() ? "" : "/") + part;
    start = slash + 1;
  }
  if (path.empty()) return Error("cgroupsPath: \"" + cgroupsPath + "\" names the root cgroup");
  return path;
}

Result<ResourceLimits> limitsFrom(const oci::Resources& resources) {
  ResourceLimits limits;
  if (resources.memoryLimit && *resources.memoryLimit > 0) {
    limits.memoryBytes = static_cast<std::uint64_t>(*resources.memoryLimit);
  }
  // As runc: a swap of 0 is no setting; -1 is unlimited; anything else is memory plus swap.
  if (resources.memorySwap && *resources.memorySwap != 0 && limits.memoryBytes) {
    std::int64_t swap = *resources.memorySwap;
    if (swap != -1 && (swap < 0 || static_cast<std::uint64_t>(swap) < *limits.memoryBytes)) {
      return Error("linux.resources.memory.swap: " + std::to_string(swap) +
                   " is below the memory limit " + std::to_string(*limits.memoryBytes) +
                   "; it counts memory and swap together, so give at least the limit, or -1");
    }
    limits.memorySwapBytes = swap;
  }
  limits.cpuMilli = resources.cpuMilli();
  if (resources.cpuShares && *resources.cpuShares > 0) {
    limits.cpuShares = std::clamp<std::uint64_t>(*resources.cpuShares, 2, 262144);
  }
  if (resources.pidsLimit && *resources.pidsLimit > 0) {
    limits.pidsLimit = *resources.pidsLimit;
  }
  if (!resources.cpusetCpus.empty()) limits.cpusetCpus = resources.cpusetCpus;
  if (!resources.cpusetMems.empty()) limits.cpusetMems = resources.cpusetMems;
  return limits;
}

Result<std::vector<DeviceRule>> deviceAllowList(const std::vector<oci::DeviceCgroupRule>& rules) {
  std::vector<DeviceRule> allowed;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const oci::DeviceCgroupRule& rule = rules[i];
    for (const DeviceRule& each : expand(rule)) {
      if (rule.allow) {
        allowed.push_back(each);
        continue;
      }
      for (DeviceRule& granted : allowed) {
        if (covers(each, granted)) {
          std::erase_if(granted.access,
                        [&](char letter) { return each.access.find(letter) != std::string::npos; });
        } else if (overlaps(each, granted) && sharesAccess(each, granted)) {
          return Error("linux.resources.devices[" + std::to_string(i) +
                       "]: this deny takes part of what an earlier rule allows (" +
                       toV1Rule(granted) +
                       "), which a device allowlist cannot express; allow only what is meant");
        }
      }
      std::erase_if(allowed, [](const DeviceRule& granted) { return granted.access.empty(); });
    }
  }
  for (const DeviceRule& rule : defaultDeviceRules()) {
    if (std::none_of(allowed.begin(), allowed.end(), [&](const DeviceRule& a) {
          return a.type == rule.type && a.major == rule.major && a.minor == rule.minor &&
                 a.access == rule.access;
        })) {
      allowed.push_back(rule);
    }
  }
  return allowed;
}

}  // namespace tandem::container

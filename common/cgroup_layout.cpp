#include "common/cgroup_layout.h"

#include <sstream>
#include <vector>

#include "common/file.h"

namespace tandem {

const char* toString(CgroupLayout layout) {
  switch (layout) {
    case CgroupLayout::kV1:
      return "v1";
    case CgroupLayout::kV2:
      return "v2";
    case CgroupLayout::kHybrid:
      return "hybrid";
  }
  return "unknown";
}

namespace {

std::vector<std::string_view> splitOn(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(separator, start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    if (end > start) {
      parts.push_back(text.substr(start, end - start));
    }
    start = end + 1;
  }
  return parts;
}

// The v1 controllers tandem places a workload in; other hierarchies (name=systemd, net_cls...)
// are left alone, as they carry no limit tandem sets.
bool isManagedV1Controller(std::string_view name) {
  for (std::string_view managed :
       {"cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer", "blkio"}) {
    if (name == managed) {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<CgroupMounts> parseCgroupMounts(std::string_view mountinfo) {
  CgroupMounts mounts;
  for (const MountInfoEntry& mount : parseMountInfo(mountinfo)) {
    if (mount.fsType == "cgroup2") {
      if (mounts.unified.empty()) {
        mounts.unified = mount.mountPoint;
      }
    } else if (mount.fsType == "cgroup") {
      for (std::string_view option : splitOn(mount.superOptions, ',')) {
        if (isManagedV1Controller(option) && !mounts.v1.count(std::string(option))) {
          mounts.v1.emplace(std::string(option), mount.mountPoint);
        }
      }
    }
  }
  if (mounts.v1.empty() && mounts.unified.empty()) {
    return Error("no cgroup filesystem is mounted; mount cgroup2 on /sys/fs/cgroup");
  }
  if (mounts.v1.empty()) {
    mounts.layout = CgroupLayout::kV2;
  } else if (mounts.unified.empty()) {
    mounts.layout = CgroupLayout::kV1;
  } else {
    mounts.layout = CgroupLayout::kHybrid;
  }
  return mounts;
}

Result<CgroupMounts> detectCgroupMounts() {
  TANDEM_ASSIGN_OR_RETURN(std::string mountinfo, readFile("/proc/self/mountinfo"));
  return parseCgroupMounts(mountinfo);
}

}  // namespace tandem

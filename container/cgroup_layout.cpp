#include "container/cgroup_layout.h"

#include <sstream>
#include <vector>

#include "common/file.h"

namespace tandem::container {

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

std::string unescapeMountField(std::string_view field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      auto octal = field.substr(i + 1, 3);
      if (octal.find_first_not_of("01234567") == std::string_view::npos) {
        out.push_back(
            static_cast<char>((octal[0] - '0') * 64 + (octal[1] - '0') * 8 + (octal[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
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
  for (std::string_view line : splitOn(mountinfo, '\n')) {
    auto fields = splitOn(line, ' ');
    std::size_t dash = 0;
    while (dash < fields.size() && fields[dash] != "-") {
      ++dash;
    }
    // mountinfo: ID PARENT DEV ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
    if (dash < 6 || dash + 3 >= fields.size()) {
      continue;
    }
    std::string_view fstype = fields[dash + 1];
    std::string mountPoint = unescapeMountField(fields[4]);
    if (fstype == "cgroup2") {
      if (mounts.unified.empty()) {
        mounts.unified = mountPoint;
      }
    } else if (fstype == "cgroup") {
      for (std::string_view option : splitOn(fields[dash + 3], ',')) {
        if (isManagedV1Controller(option) && !mounts.v1.count(std::string(option))) {
          mounts.v1.emplace(std::string(option), mountPoint);
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

}  // namespace tandem::container

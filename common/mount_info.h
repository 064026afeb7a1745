// /proc/self/mountinfo, read once for whoever needs the mounts: the cgroup hierarchies, and the
// host mounts a new root detaches when it cannot pivot_root.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tandem {

struct MountInfoEntry {
  std::string mountPoint;  // unescaped
  std::string fsType;
  std::string superOptions;
};

// The lines of a mountinfo text, "ID PARENT DEV ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE
// SOURCE SUPEROPTIONS", in order; lines without all of those fields are skipped.
std::vector<MountInfoEntry> parseMountInfo(std::string_view mountinfo);
Result<std::vector<MountInfoEntry>> readMountInfo();

// mountinfo escapes space, tab, newline and backslash as \ooo octal.
std::string unescapeMountField(std::string_view field);

}  // namespace tandem

// Where the cgroup hierarchies are mounted, and which layout that makes: pure v1, pure v2, or
// the hybrid of v1 controllers beside an (almost empty) cgroup2 tree that these machines have.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/mount_info.h"
#include "common/result.h"

namespace tandem {

enum class CgroupLayout { kV1, kV2, kHybrid };

const char* toString(CgroupLayout layout);

struct CgroupMounts {
  CgroupLayout layout = CgroupLayout::kV2;
  std::string unified;                    // cgroup2 mount point; empty if none
  std::map<std::string, std::string> v1;  // v1 controller name -> its hierarchy's mount point
};

// Reads the layout from the text of /proc/self/mountinfo.
Result<CgroupMounts> parseCgroupMounts(std::string_view mountinfo);

Result<CgroupMounts> detectCgroupMounts();

}  // namespace tandem

#include "vmm/disk_spec.h"

namespace tandem::vmm {

Result<DiskSpec> parseDiskSpec(std::string_view text) {
  DiskSpec disk;
  disk.path = std::string(text);
  for (auto [suffix, readOnly] : {std::pair{":ro", true}, std::pair{":rw", false}}) {
    if (text.ends_with(suffix)) {
      disk.path = std::string(text.substr(0, text.size() - 3));
      disk.readOnly = readOnly;
    }
  }
  if (disk.path.empty()) {
    return Error("--disk \"" + std::string(text) + "\" names no file; use --disk PATH[:ro|:rw]",
                 EINVAL);
  }
  return disk;
}

}  // namespace tandem::vmm

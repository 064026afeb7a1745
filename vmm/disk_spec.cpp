#include "vmm/disk_spec.h"

#include <fcntl.h>

#include "vmm/layered_disk.h"

namespace tandem::vmm {
namespace {

constexpr std::string_view kLayerSuffix = ":layer=";

}  // namespace

std::string DiskSpec::text() const {
  if (!layerPath.empty()) {
    return path + std::string(kLayerSuffix) + layerPath;
  }
  return path + (readOnly ? ":ro" : ":rw");
}

Result<DiskSpec> parseDiskSpec(std::string_view text) {
  DiskSpec disk;
  disk.path = std::string(text);
  if (auto at = text.find(kLayerSuffix); at != std::string_view::npos) {
    disk.path = std::string(text.substr(0, at));
    disk.layerPath = std::string(text.substr(at + kLayerSuffix.size()));
    if (disk.layerPath.empty()) {
      return Error("--disk \"" + std::string(text) + "\" names no layer file after \"layer=\"",
                   EINVAL);
    }
  } else {
    for (auto [suffix, readOnly] : {std::pair{":ro", true}, std::pair{":rw", false}}) {
      if (text.ends_with(suffix)) {
        disk.path = std::string(text.substr(0, text.size() - 3));
        disk.readOnly = readOnly;
      }
    }
  }
  if (disk.path.empty()) {
    return Error(
        "--disk \"" + std::string(text) + "\" names no file; use --disk PATH[:ro|:rw|:layer=LAYER]",
        EINVAL);
  }
  return disk;
}

Result<std::unique_ptr<DiskBacking>> openDisk(const DiskSpec& disk) {
  if (!disk.layerPath.empty()) {
    TANDEM_ASSIGN_OR_RETURN(auto layered, LayeredDisk::open(disk.path, disk.layerPath));
    return std::unique_ptr<DiskBacking>(std::move(layered));
  }
  UniqueFd file(::open(disk.path.c_str(), (disk.readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC));
  if (!file) {
    return Error::fromErrno("cannot open the disk " + disk.path);
  }
  TANDEM_ASSIGN_OR_RETURN(auto plain, FileBacking::open(std::move(file), disk.path));
  return std::unique_ptr<DiskBacking>(std::move(plain));
}

}  // namespace tandem::vmm

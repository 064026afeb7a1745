#include "vmm/disk_backing.h"

#include <unistd.h>

#include "common/file.h"

namespace tandem::vmm {

Result<std::unique_ptr<FileBacking>> FileBacking::open(UniqueFd file, std::string path) {
  TANDEM_ASSIGN_OR_RETURN(std::uint64_t bytes, regularFileSize(file.get(), path));
  return std::unique_ptr<FileBacking>(new FileBacking(std::move(file), std::move(path), bytes));
}

Status FileBacking::read(std::uint64_t offset, std::span<std::uint8_t> into) {
  return readExactlyAt(file_.get(), into, offset, path_);
}

Status FileBacking::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  return writeExactlyAt(file_.get(), data, offset, path_);
}

Status FileBacking::flush() {
  if (::fdatasync(file_.get()) != 0) {
    return Error::fromErrno("cannot flush " + path_);
  }
  return okStatus();
}

}  // namespace tandem::vmm

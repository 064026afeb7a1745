#include "common/mapped_region.h"

#include <sys/mman.h>

#include "common/size.h"

namespace tandem {

Result<MappedRegion> MappedRegion::map(const std::string& what, std::size_t size, int protection,
                                       int flags, int fd, off_t offset) {
  void* address = ::mmap(nullptr, size, protection, flags, fd, offset);
  if (address == MAP_FAILED) {
    return Error::fromErrno("mapping " + formatSize(size) + " for " + what);
  }
  return MappedRegion(address, size);
}

void MappedRegion::reset() {
  if (address_ != nullptr) {
    ::munmap(address_, size_);
    address_ = nullptr;
    size_ = 0;
  }
}

}  // namespace tandem

#include "common/mapped_region.h"

#include <sys/mman.h>
#include <unistd.h>

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

Result<MappedRegion> MappedRegion::mapAligned(const std::string& what, std::size_t size,
                                              std::size_t alignment, int protection, int flags) {
  // munmap takes whole pages, so the trimmed tail must start on one.
  auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  size = (size + page - 1) & ~(page - 1);
  TANDEM_ASSIGN_OR_RETURN(MappedRegion padded, map(what, size + alignment, protection, flags));
  auto start = reinterpret_cast<std::uintptr_t>(padded.address_);
  auto aligned = (start + alignment - 1) & ~(std::uintptr_t{alignment} - 1);
  std::size_t head = aligned - start;
  std::size_t tail = alignment - head;
  if (head > 0) {
    ::munmap(padded.address_, head);
  }
  if (tail > 0) {
    ::munmap(reinterpret_cast<void*>(aligned + size), tail);
  }
  padded.address_ = nullptr;
  padded.size_ = 0;
  return MappedRegion(reinterpret_cast<void*>(aligned), size);
}

void MappedRegion::reset() {
  if (address_ != nullptr) {
    ::munmap(address_, size_);
    address_ = nullptr;
    size_ = 0;
  }
}

}  // namespace tandem

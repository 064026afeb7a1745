// Move-only ownership of an mmap'd range: guest memory, a vCPU's kvm_run area.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "common/result.h"

namespace tandem {

class MappedRegion {
 public:
  MappedRegion() = default;
  ~MappedRegion() { reset(); }
  MappedRegion(MappedRegion&& other) noexcept
      : address_(std::exchange(other.address_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  MappedRegion& operator=(MappedRegion&& other) noexcept {
    if (this != &other) {
      reset();
      address_ = std::exchange(other.address_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;

  // mmap(2); `what` names the mapping in the error ("guest memory", "kvm_run of vCPU 1").
  static Result<MappedRegion> map(const std::string& what, std::size_t size, int protection,
                                  int flags, int fd = -1, off_t offset = 0);

  // An anonymous mapping of `size` bytes, rounded up to whole pages, whose start is a multiple
  // of `alignment` (a power of two, at least a page): mapped larger, then trimmed, since mmap
  // itself only promises page alignment.
  static Result<MappedRegion> mapAligned(const std::string& what, std::size_t size,
                                         std::size_t alignment, int protection, int flags);

  std::uint8_t* data() const { return static_cast<std::uint8_t*>(address_); }
  std::size_t size() const { return size_; }
  bool valid() const { return address_ != nullptr; }

 private:
  MappedRegion(void* address, std::size_t size) : address_(address), size_(size) {}
  void reset();

  void* address_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace tandem

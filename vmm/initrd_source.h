// An initrd as the loader takes it: a bound on its size, so that it can be placed, then its
// bytes written straight into guest memory there. A VMM that assembled the initrd on its heap
// first would touch every byte of it twice and hold a second copy until it was freed.
#pragma once

#include <cstdint>
#include <span>

#include "common/result.h"

namespace tandem::vmm {

class InitrdSource {
 public:
  virtual ~InitrdSource() = default;
  // The initrd is at most this long; 0 means there is none.
  virtual std::uint64_t maxBytes() const = 0;
  // Writes the initrd at the start of `target`, which is maxBytes() long and fresh (all zeros),
  // and returns how many bytes it took.
  virtual Result<std::uint64_t> writeTo(std::span<std::uint8_t> target) const = 0;
};

// An initrd already in memory; empty for none.
class BytesInitrd final : public InitrdSource {
 public:
  BytesInitrd() = default;
  explicit BytesInitrd(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  std::uint64_t maxBytes() const override { return bytes_.size(); }
  Result<std::uint64_t> writeTo(std::span<std::uint8_t> target) const override;

 private:
  std::span<const std::uint8_t> bytes_;
};

}  // namespace tandem::vmm

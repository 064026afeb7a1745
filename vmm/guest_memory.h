// The guest's RAM: one host mapping, registered with KVM as up to two memslots around the
// 32-bit MMIO hole. Everything the boot setup and devices put into the guest goes through the
// bounds-checked accessors here, so a bad address from a guest or a kernel image is an error,
// never a host write out of range.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "common/mapped_region.h"
#include "common/result.h"

namespace tandem::vmm {

struct GuestRegion {
  std::uint64_t guestAddress = 0;
  std::uint64_t size = 0;
  std::uint64_t hostOffset = 0;  // into the one host mapping
};

// How `bytes` of RAM are laid out: below the MMIO hole first, the rest from 4 GiB up.
std::vector<GuestRegion> guestRegions(std::uint64_t bytes);

class GuestMemory {
 public:
  // MAP_NORESERVE: a guest touches only what it uses, so a large --memory costs nothing until
  // then. With `hugepages`, backed by the hugetlb pool (which must hold enough free pages).
  static Result<GuestMemory> create(std::uint64_t bytes, bool hugepages);

  std::uint64_t size() const { return mapping_.size(); }
  const std::vector<GuestRegion>& regions() const { return regions_; }
  std::uint8_t* hostBase() const { return mapping_.data(); }

  // The host bytes behind [address, address + length), which must lie within one region.
  Result<std::span<std::uint8_t>> slice(std::uint64_t address, std::uint64_t length) const;

  Status write(std::uint64_t address, std::span<const std::uint8_t> bytes) const;

  template <class T>
  Status writeObject(std::uint64_t address, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    return write(address, {reinterpret_cast<const std::uint8_t*>(&value), sizeof(T)});
  }

  template <class T>
  Result<T> readObject(std::uint64_t address) const {
    static_assert(std::is_trivially_copyable_v<T>);
    TANDEM_ASSIGN_OR_RETURN(auto bytes, slice(address, sizeof(T)));
    T value;
    std::memcpy(&value, bytes.data(), sizeof(T));
    return value;
  }

 private:
  GuestMemory(MappedRegion mapping, std::vector<GuestRegion> regions)
      : mapping_(std::move(mapping)), regions_(std::move(regions)) {}

  MappedRegion mapping_;
  std::vector<GuestRegion> regions_;
};

}  // namespace tandem::vmm

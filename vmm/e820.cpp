#include "vmm/e820.h"

#include "vmm/guest_memory.h"
#include "vmm/x86_layout.h"

namespace tandem::vmm {

std::vector<E820Entry> e820Map(std::uint64_t memoryBytes) {
  std::vector<E820Entry> map;
  map.push_back({0, x86::kLowMemoryEnd, E820Type::kRam});
  for (const auto& region : guestRegions(memoryBytes)) {
    std::uint64_t start = region.guestAddress == 0 ? x86::kHighMemoryStart : region.guestAddress;
    std::uint64_t end = region.guestAddress + region.size;
    if (end > start) {
      map.push_back({start, end - start, E820Type::kRam});
    }
  }
  return map;
}

}  // namespace tandem::vmm

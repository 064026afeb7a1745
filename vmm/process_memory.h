// The VMM's own memory cost: RSS and PSS of every mapping except guest RAM, from
// /proc/self/smaps, so "VMM overhead" means what the monitor adds on top of the guest.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace tandem::vmm {

struct MemoryUse {
  std::uint64_t rssBytes = 0;
  std::uint64_t pssBytes = 0;
};

// Sums Rss and Pss over the mappings in `smaps` text, leaving out any mapping that starts in
// [excludeStart, excludeEnd).
MemoryUse memoryOutside(std::string_view smaps, std::uint64_t excludeStart,
                        std::uint64_t excludeEnd);

Result<MemoryUse> ownMemoryOutside(std::uint64_t excludeStart, std::uint64_t excludeEnd);

}  // namespace tandem::vmm

#include "vmm/guest_memory.h"

#include <sys/mman.h>

#include <fmt/format.h>
#include <algorithm>

#include "common/size.h"
#include "vmm/x86_layout.h"

namespace tandem::vmm {
namespace {

// 2 MiB: an x86 large page, and the alignment the host mapping needs for KVM to use them.
constexpr std::uint64_t kHugePageBytes = 2ull << 20;

}  // namespace

std::vector<GuestRegion> guestRegions(std::uint64_t bytes) {
  std::vector<GuestRegion> regions;
  std::uint64_t low = std::min(bytes, x86::kMmioHoleStart);
  regions.push_back({0, low, 0});
  if (bytes > low) {
    regions.push_back({x86::kMmioHoleEnd, bytes - low, low});
  }
  return regions;
}

Result<GuestMemory> GuestMemory::create(std::uint64_t bytes, bool hugepages) {
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
  if (hugepages) {
    flags |= MAP_HUGETLB;
  }
  auto mapping = MappedRegion::mapAligned("guest memory", bytes, kHugePageBytes,
                                          PROT_READ | PROT_WRITE, flags);
  if (!mapping) {
    if (hugepages) {
      return std::move(mapping).error().context(
          "hugepage-backed guest memory needs " + formatSize(bytes) +
          " of free 2 MiB pages (see /proc/sys/vm/nr_hugepages), or run without --hugepages");
    }
    return std::move(mapping).error();
  }
  if (!hugepages) {
    // Transparent huge pages let KVM map guest RAM 2 MiB at a time: without them every 4 KiB
    // page the guest touches first costs a nested page fault exit (about 7,000 of a boot's
    // 9,000 exits, measured in the emulated host). Advice only: where THP is off, 4 KiB it is.
    ::madvise(mapping->data(), mapping->size(), MADV_HUGEPAGE);
  }
  return GuestMemory(std::move(mapping).value(), guestRegions(bytes));
}

Result<std::span<std::uint8_t>> GuestMemory::slice(std::uint64_t address,
                                                   std::uint64_t length) const {
  for (const auto& region : regions_) {
    if (address >= region.guestAddress && address - region.guestAddress <= region.size &&
        length <= region.size - (address - region.guestAddress)) {
      return std::span<std::uint8_t>(
          mapping_.data() + region.hostOffset + (address - region.guestAddress), length);
    }
  }
  return Error("guest range " + fmt::format("{:#x}", address) + "+" + fmt::format("{:#x}", length) +
                   " is outside the guest's " + formatSize(size()) + " of RAM",
               EFAULT);
}

Status GuestMemory::write(std::uint64_t address, std::span<const std::uint8_t> bytes) const {
  TANDEM_ASSIGN_OR_RETURN(auto target, slice(address, bytes.size()));
  std::copy(bytes.begin(), bytes.end(), target.begin());
  return okStatus();
}

}  // namespace tandem::vmm

// Guest RAM for the VMM's fuzz targets: one small mapping per process, refilled from the input
// at each run, and the check that a span the device code handed out lies inside it. ASan cannot
// see past the end of an mmap, so the targets check every span they are given.
#pragma once

#include <algorithm>
#include <cstring>

#include "tests/fuzz/fuzz_input.h"
#include "vmm/guest_memory.h"
#include "vmm/virtio/virtqueue.h"

inline constexpr std::uint64_t kFuzzGuestRam = 64 * 1024;

inline const tandem::vmm::GuestMemory& fuzzGuestRam() {
  static tandem::vmm::GuestMemory memory =
      std::move(tandem::vmm::GuestMemory::create(kFuzzGuestRam, false)).value();
  return memory;
}

// Zeroes the guest's RAM, then copies `image` to its start: the rings and buffers a hostile
// driver laid out.
inline void loadGuestRam(std::span<const std::uint8_t> image) {
  const auto& memory = fuzzGuestRam();
  std::memset(memory.hostBase(), 0, memory.size());
  if (!image.empty()) {
    std::memcpy(memory.hostBase(), image.data(),
                std::min<std::size_t>(image.size(), memory.size()));
  }
}

inline void checkInsideGuestRam(std::span<const std::uint8_t> bytes) {
  const auto& memory = fuzzGuestRam();
  const std::uint8_t* begin = memory.hostBase();
  const std::uint8_t* end = begin + memory.size();
  fuzzCheck(bytes.empty() || (bytes.data() >= begin && bytes.data() + bytes.size() <= end &&
                              bytes.data() + bytes.size() >= bytes.data()),
            "a buffer handed to a device lies inside guest RAM");
}

// A guest address with a bias towards RAM, but able to point past it or wrap.
inline std::uint64_t fuzzGuestAddress(FuzzInput& input) {
  std::uint8_t kind = input.take<std::uint8_t>();
  if (kind < 224) {
    return input.take<std::uint16_t>() % kFuzzGuestRam;
  }
  return input.take<std::uint64_t>();
}

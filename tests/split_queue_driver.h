// A virtio driver's side of one split queue in guest RAM, written as a guest writes it:
// descriptors and the available ring, and what the device left in the used ring. Each write says
// whether it landed in RAM: a unit test's layout always does, a fuzzed one may point anywhere.
// Shared by the unit tests of the virtio devices and the fuzz targets that drive them.
#pragma once

#include <cstdint>

#include "vmm/guest_memory.h"
#include "vmm/virtio/virtqueue.h"

struct SplitQueueDriver {
  struct Descriptor {
    std::uint64_t address;
    std::uint32_t length;
    std::uint16_t flags;
    std::uint16_t next;
  };

  const tandem::vmm::GuestMemory* memory;
  tandem::vmm::virtio::QueueLayout layout;
  std::uint16_t availIndex = 0;

  bool descriptor(std::uint16_t index, Descriptor entry) const {
    return memory->writeObject(layout.descTable + 16 * std::uint64_t{index}, entry).ok();
  }
  // Puts `head` in the next slot of the available ring, then publishes the new index.
  bool offer(std::uint16_t head) {
    std::uint64_t slot = layout.availRing + 4 + 2 * std::uint64_t(availIndex % layout.size);
    bool written = memory->writeObject(slot, head).ok();
    ++availIndex;
    return memory->writeObject(layout.availRing + 2, availIndex).ok() && written;
  }
  std::uint16_t usedIndex() const { return readOrZero<std::uint16_t>(layout.usedRing + 2); }
  // Entry `n` of the used ring: the chain's head and the bytes the device wrote.
  std::uint32_t usedHead(std::uint16_t n) const {
    return readOrZero<std::uint32_t>(layout.usedRing + 4 + 8 * std::uint64_t(n));
  }
  std::uint32_t usedLength(std::uint16_t n) const {
    return readOrZero<std::uint32_t>(layout.usedRing + 8 + 8 * std::uint64_t(n));
  }
  std::uint16_t availEvent() const {
    return readOrZero<std::uint16_t>(layout.usedRing + 4 + 8 * std::uint64_t(layout.size));
  }

 private:
  template <typename T>
  T readOrZero(std::uint64_t address) const {
    auto value = memory->readObject<T>(address);
    return value ? *value : T{};
  }
};

// A virtio driver's side of one split queue in guest RAM, written field by field as a guest
// would: descriptors, the available ring, and reading back what the device used.
#pragma once

#include <cstdint>

#include "tests/unit/unit_test.h"
#include "vmm/guest_memory.h"
#include "vmm/virtio/virtqueue.h"

struct QueueDriver {
  struct Descriptor {
    std::uint64_t address;
    std::uint32_t length;
    std::uint16_t flags;
    std::uint16_t next;
  };

  tandem::vmm::GuestMemory& memory;
  tandem::vmm::virtio::QueueLayout layout;
  std::uint16_t availIndex = 0;

  // The rings at `base`: descriptors, then the available ring, then the used ring, each in its
  // own 4 KiB page (queues up to 256 entries).
  QueueDriver(tandem::vmm::GuestMemory& guestMemory, std::uint64_t base, std::uint16_t size)
      : memory(guestMemory), layout{size, base, base + 0x1000, base + 0x2000} {}

  void descriptor(std::uint16_t index, Descriptor d) {
    assert_true(memory.writeObject(layout.descTable + 16 * std::uint64_t{index}, d).ok());
  }
  void offer(std::uint16_t head) {
    std::uint64_t slot = layout.availRing + 4 + 2 * std::uint64_t(availIndex % layout.size);
    assert_true(memory.writeObject(slot, head).ok());
    ++availIndex;
    assert_true(memory.writeObject(layout.availRing + 2, availIndex).ok());
  }
  tandem::vmm::virtio::Virtqueue queue(bool eventIndex) {
    auto queue = tandem::vmm::virtio::Virtqueue::create(memory, layout, eventIndex);
    assert_true(queue.ok());
    return std::move(queue).value();
  }
  std::uint16_t usedIndex() const { return *memory.readObject<std::uint16_t>(layout.usedRing + 2); }
  // Entry `n` of the used ring: the chain's head and the bytes the device wrote.
  std::uint32_t usedHead(std::uint16_t n) const {
    return *memory.readObject<std::uint32_t>(layout.usedRing + 4 + 8 * std::uint64_t(n));
  }
  std::uint32_t usedLength(std::uint16_t n) const {
    return *memory.readObject<std::uint32_t>(layout.usedRing + 8 + 8 * std::uint64_t(n));
  }
  std::uint16_t availEvent() const {
    return *memory.readObject<std::uint16_t>(layout.usedRing + 4 + 8 * std::uint64_t(layout.size));
  }
};

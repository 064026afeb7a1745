// The unit tests' driver of one split queue: its rings at `base`, each in its own 4 KiB page
// (descriptors, then the available ring, then the used ring; queues up to 256 entries), and
// every write asserted to land.
#pragma once

#include <utility>

#include "tests/split_queue_driver.h"
#include "tests/unit/unit_test.h"

struct QueueDriver : SplitQueueDriver {
  QueueDriver(tandem::vmm::GuestMemory& guestMemory, std::uint64_t base, std::uint16_t size)
      : SplitQueueDriver{&guestMemory, {size, base, base + 0x1000, base + 0x2000}} {}

  void descriptor(std::uint16_t index, Descriptor entry) const {
    assert_true(SplitQueueDriver::descriptor(index, entry));
  }
  void offer(std::uint16_t head) { assert_true(SplitQueueDriver::offer(head)); }
  tandem::vmm::virtio::Virtqueue queue(bool eventIndex) {
    auto queue = tandem::vmm::virtio::Virtqueue::create(*memory, layout, eventIndex);
    assert_true(queue.ok());
    return std::move(queue).value();
  }
};

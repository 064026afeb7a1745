#include "vmm/virtio/virtqueue.h"

#include <algorithm>
#include <atomic>

#include <fmt/format.h>

namespace tandem::vmm::virtio {
namespace {

struct Descriptor {
  std::uint64_t address;
  std::uint32_t length;
  std::uint16_t flags;
  std::uint16_t next;
};
static_assert(sizeof(Descriptor) == 16);

struct UsedElement {
  std::uint32_t id;
  std::uint32_t length;
};
static_assert(sizeof(UsedElement) == 8);

// Ring sizes by the spec's formulas, with the event-index word at the end of each ring.
std::uint64_t availBytes(std::uint16_t size) {
  return 6 + 2 * std::uint64_t{size};
}
std::uint64_t usedBytes(std::uint16_t size) {
  return 6 + 8 * std::uint64_t{size};
}

// The spec's vring_need_event: whether `event` lies in the window (old, new].
bool eventInWindow(std::uint16_t event, std::uint16_t newIndex, std::uint16_t oldIndex) {
  return static_cast<std::uint16_t>(newIndex - event - 1) <
         static_cast<std::uint16_t>(newIndex - oldIndex);
}

std::string hex(std::uint64_t value) {
  return fmt::format("{:#x}", value);
}

}  // namespace

std::uint64_t DescriptorChain::readableBytes() const {
  std::uint64_t total = 0;
  for (const auto& buffer : readable) total += buffer.bytes.size();
  return total;
}

std::uint64_t DescriptorChain::writableBytes() const {
  std::uint64_t total = 0;
  for (const auto& buffer : writable) total += buffer.bytes.size();
  return total;
}

Result<Virtqueue> Virtqueue::create(const GuestMemory& memory, const QueueLayout& layout,
                                    bool eventIndex) {
  if (layout.size == 0 || layout.size > kMaxQueueSize || (layout.size & (layout.size - 1)) != 0) {
    return Error(
        "queue size " + std::to_string(layout.size) + " is not a power of two from 1 to 32768",
        EINVAL);
  }
  struct Part {
    const char* name;
    std::uint64_t address;
    std::uint64_t bytes;
    std::uint64_t alignment;
  };
  for (const Part& part :
       {Part{"descriptor table", layout.descTable, 16 * std::uint64_t{layout.size}, 16},
        Part{"available ring", layout.availRing, availBytes(layout.size), 2},
        Part{"used ring", layout.usedRing, usedBytes(layout.size), 4}}) {
    if (part.address % part.alignment != 0) {
      return Error(std::string("the ") + part.name + " at " + hex(part.address) +
                       " is not aligned to " + std::to_string(part.alignment) + " bytes",
                   EINVAL);
    }
    if (auto inside = memory.slice(part.address, part.bytes); !inside) {
      return std::move(inside).error().context(std::string("the queue's ") + part.name);
    }
  }
  return Virtqueue(memory, layout, eventIndex);
}

Result<std::uint16_t> Virtqueue::availIndex() const {
  TANDEM_ASSIGN_OR_RETURN(auto index, memory_->readObject<std::uint16_t>(layout_.availRing + 2));
  // The ring entries and descriptors behind the index are read only after it.
  std::atomic_thread_fence(std::memory_order_acquire);
  return index;
}

Result<PoppedChain> Virtqueue::pop() {
  TANDEM_ASSIGN_OR_RETURN(std::uint16_t available, availIndex());
  auto pending = static_cast<std::uint16_t>(available - nextAvail_);
  if (pending > layout_.size) {
    return Error("the driver's available index " + std::to_string(available) + " is " +
                     std::to_string(pending) + " entries ahead of the device, more than the " +
                     std::to_string(layout_.size) + "-entry queue holds",
                 EPROTO);
  }
  PoppedChain popped;
  if (pending == 0) {
    return popped;
  }
  std::uint64_t slot =
      layout_.availRing + 4 + 2 * static_cast<std::uint64_t>(nextAvail_ % layout_.size);
  TANDEM_ASSIGN_OR_RETURN(std::uint16_t head, memory_->readObject<std::uint16_t>(slot));
  ++nextAvail_;
  if (head >= layout_.size) {
    return Error("the available ring names descriptor " + std::to_string(head) + " of a " +
                     std::to_string(layout_.size) + "-entry queue",
                 EPROTO);
  }
  popped.chain.head = head;
  if (auto walked = walk(head, popped); !walked) {
    popped.kind = PoppedChain::Kind::kMalformed;
    popped.problem = walked.error().message();
    popped.chain.readable.clear();
    popped.chain.writable.clear();
    return popped;
  }
  popped.kind = PoppedChain::Kind::kChain;
  return popped;
}

Status Virtqueue::walk(std::uint16_t head, PoppedChain& popped) const {
  std::uint64_t table = layout_.descTable;
  std::uint32_t tableSize = layout_.size;
  bool inIndirect = false;
  bool writableSeen = false;
  std::uint32_t index = head;
  std::uint32_t visited = 0;
  std::uint64_t total = 0;
  for (;;) {
    // A chain visits each descriptor of its table at most once; more means a loop.
    if (++visited > tableSize) {
      return Error("the chain at descriptor " + std::to_string(head) + " loops or is longer than " +
                   std::to_string(tableSize) + " descriptors");
    }
    TANDEM_ASSIGN_OR_RETURN(Descriptor descriptor,
                            memory_->readObject<Descriptor>(table + 16 * std::uint64_t{index}));
    std::string where =
        (inIndirect ? "indirect descriptor " : "descriptor ") + std::to_string(index);
    if (descriptor.flags & kDescIndirect) {
      if (inIndirect) {
        return Error(where + " points to an indirect table from inside one");
      }
      if (descriptor.flags & kDescNext) {
        return Error(where + " is both INDIRECT and NEXT");
      }
      if (descriptor.length == 0 || descriptor.length % 16 != 0 ||
          descriptor.length / 16 > kMaxQueueSize) {
        return Error(where + " gives an indirect table of " + std::to_string(descriptor.length) +
                     " bytes, not a whole number of descriptors from 1 to 32768");
      }
      if (auto inside = memory_->slice(descriptor.address, descriptor.length); !inside) {
        return std::move(inside).error().context(where + "'s indirect table");
      }
      table = descriptor.address;
      tableSize = descriptor.length / 16;
      inIndirect = true;
      index = 0;
      visited = 0;
      continue;
    }
    if (descriptor.length == 0) {
      return Error(where + " has length 0");
    }
    auto bytes = memory_->slice(descriptor.address, descriptor.length);
    if (!bytes) {
      return std::move(bytes).error().context(where);
    }
    total += descriptor.length;
    if (total > UINT32_MAX) {
      return Error("the chain at descriptor " + std::to_string(head) +
                   " holds more than 4 GiB of buffers");
    }
    ChainBuffer buffer{descriptor.address, *bytes};
    if (descriptor.flags & kDescWrite) {
      popped.chain.writable.push_back(buffer);
      writableSeen = true;
    } else if (writableSeen) {
      return Error(where + " is device-readable but follows a device-writable one");
    } else {
      popped.chain.readable.push_back(buffer);
    }
    if (!(descriptor.flags & kDescNext)) {
      break;
    }
    index = descriptor.next;
    if (index >= tableSize) {
      return Error(where + " continues to descriptor " + std::to_string(index) + " of a " +
                   std::to_string(tableSize) + "-entry table");
    }
  }
  // Overlapping buffers would let what the device writes change what it reads, mid-request.
  std::vector<ChainBuffer> all = popped.chain.readable;
  all.insert(all.end(), popped.chain.writable.begin(), popped.chain.writable.end());
  std::sort(all.begin(), all.end(), [](const ChainBuffer& a, const ChainBuffer& b) {
    return a.guestAddress < b.guestAddress;
  });
  for (std::size_t i = 1; i < all.size(); ++i) {
    if (all[i - 1].guestAddress + all[i - 1].bytes.size() > all[i].guestAddress) {
      return Error("the chain at descriptor " + std::to_string(head) + " has buffers at " +
                   hex(all[i - 1].guestAddress) + " and " + hex(all[i].guestAddress) +
                   " that overlap");
    }
  }
  return okStatus();
}

Status Virtqueue::pushUsed(std::uint16_t head, std::uint32_t written) {
  UsedChain chain{head, written};
  return pushUsed(std::span<const UsedChain>(&chain, 1));
}

Status Virtqueue::pushUsed(std::span<const UsedChain> chains) {
  if (chains.size() > layout_.size) {
    return Error("cannot return " + std::to_string(chains.size()) + " chains to a " +
                     std::to_string(layout_.size) + "-entry queue at once",
                 EINVAL);
  }
  std::uint16_t index = nextUsed_;
  for (const UsedChain& chain : chains) {
    if (chain.head >= layout_.size) {
      return Error("cannot return descriptor " + std::to_string(chain.head) + " to a " +
                       std::to_string(layout_.size) + "-entry queue",
                   EINVAL);
    }
    std::uint64_t slot =
        layout_.usedRing + 4 + 8 * static_cast<std::uint64_t>(index % layout_.size);
    TANDEM_TRY(memory_->writeObject(slot, UsedElement{chain.head, chain.written}));
    ++index;
  }
  // The elements must be visible before the index that publishes them.
  std::atomic_thread_fence(std::memory_order_release);
  nextUsed_ = index;
  return memory_->writeObject(layout_.usedRing + 2, nextUsed_);
}

void Virtqueue::rewind(std::uint16_t count) {
  nextAvail_ = static_cast<std::uint16_t>(nextAvail_ - count);
}

Result<bool> Virtqueue::needsInterrupt() {
  // The used index just written must be visible before the driver's wishes are read.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  std::uint16_t previous = signalledUsed_;
  signalledUsed_ = nextUsed_;
  if (previous == nextUsed_) {
    return false;
  }
  if (eventIndex_) {
    TANDEM_ASSIGN_OR_RETURN(
        std::uint16_t usedEvent,
        memory_->readObject<std::uint16_t>(layout_.availRing + 4 + 2 * std::uint64_t{size()}));
    return eventInWindow(usedEvent, nextUsed_, previous);
  }
  TANDEM_ASSIGN_OR_RETURN(std::uint16_t flags,
                          memory_->readObject<std::uint16_t>(layout_.availRing));
  return (flags & kAvailNoInterrupt) == 0;
}

Result<bool> Virtqueue::serveAvailable(const ChainServer& serve,
                                       const std::function<void(const std::string&)>& onMalformed) {
  // Drained only once a pop after asking for the next notification finds nothing: a chain
  // made available in between would otherwise wait for a notification that never comes.
  bool armed = false;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(PoppedChain popped, pop());
    if (popped.kind == PoppedChain::Kind::kEmpty) {
      if (armed) {
        break;
      }
      TANDEM_TRY(requestNotification());
      armed = true;
      continue;
    }
    armed = false;
    std::uint32_t written = 0;
    if (popped.kind == PoppedChain::Kind::kMalformed) {
      onMalformed(popped.problem);
    } else {
      written = serve(popped.chain);
    }
    TANDEM_TRY(pushUsed(popped.chain.head, written));
  }
  return needsInterrupt();
}

Status Virtqueue::requestNotification() {
  if (!eventIndex_) {
    return okStatus();
  }
  TANDEM_TRY(memory_->writeObject(layout_.usedRing + 4 + 8 * std::uint64_t{size()}, nextAvail_));
  // The driver must see avail_event before the device looks at the available index again.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return okStatus();
}

Result<bool> Virtqueue::requestNotificationForMore() {
  TANDEM_ASSIGN_OR_RETURN(std::uint16_t available, availIndex());
  if (eventIndex_) {
    TANDEM_TRY(memory_->writeObject(layout_.usedRing + 4 + 8 * std::uint64_t{size()}, available));
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  TANDEM_ASSIGN_OR_RETURN(std::uint16_t now, availIndex());
  return now != available;
}

}  // namespace tandem::vmm::virtio

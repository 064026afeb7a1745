// The device side of a split virtqueue (virtio 1.2, section 2.7): taking descriptor chains the
// driver made available and returning them as used, with the event-index suppression of
// notifications and interrupts. Everything in the rings and descriptors is written by the guest
// and may change while it is read, so each field is read once, and every index, length and
// address is checked before it is used: a malformed chain is an error for that chain, a
// corrupt ring an error for the whole queue, and neither ever a host access out of range.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "vmm/guest_memory.h"

namespace tandem::vmm::virtio {

inline constexpr std::uint16_t kMaxQueueSize = 32768;

// Descriptor flags.
inline constexpr std::uint16_t kDescNext = 1;
inline constexpr std::uint16_t kDescWrite = 2;
inline constexpr std::uint16_t kDescIndirect = 4;
// The driver's "no interrupt, please", without event indexes.
inline constexpr std::uint16_t kAvailNoInterrupt = 1;

// Where the driver placed a queue, as written to the transport's registers.
struct QueueLayout {
  std::uint16_t size = 0;
  std::uint64_t descTable = 0;
  std::uint64_t availRing = 0;
  std::uint64_t usedRing = 0;
};

// One buffer of a chain: guest bytes the device may read (driver to device) or write.
struct ChainBuffer {
  std::uint64_t guestAddress = 0;
  std::span<std::uint8_t> bytes;
};

struct DescriptorChain {
  std::uint16_t head = 0;
  // In chain order; every readable buffer comes before every writable one.
  std::vector<ChainBuffer> readable;
  std::vector<ChainBuffer> writable;

  std::uint64_t readableBytes() const;
  std::uint64_t writableBytes() const;
};

// What pop() found: nothing new, a usable chain, or a chain the device must refuse. A refused
// chain still has a head, so the device can return it as used (with nothing written) and the
// driver does not wait for it forever.
struct PoppedChain {
  enum class Kind { kEmpty, kChain, kMalformed };
  Kind kind = Kind::kEmpty;
  DescriptorChain chain;
  std::string problem;  // for kMalformed
};

class Virtqueue {
 public:
  // Checks the layout against the spec (a power-of-two size up to 32768, aligned rings) and
  // against guest RAM: every ring must lie inside it.
  static Result<Virtqueue> create(const GuestMemory& memory, const QueueLayout& layout,
                                  bool eventIndex);

  std::uint16_t size() const { return layout_.size; }

  // The next available chain. An error means the ring itself is corrupt (the available index
  // ran ahead by more than the queue size, or a head index past the ring): the queue is unusable
  // until the driver resets the device.
  Result<PoppedChain> pop();

  // Returns chain `head` to the driver with `written` bytes in its writable buffers.
  Status pushUsed(std::uint16_t head, std::uint32_t written);
  // Returns several chains at once: the driver sees all of them or none (a network frame
  // spread over several receive buffers must arrive whole).
  struct UsedChain {
    std::uint16_t head = 0;
    std::uint32_t written = 0;
  };
  Status pushUsed(std::span<const UsedChain> chains);

  // Gives back the last `count` chains popped and not returned as used: the next pops take them
  // again. For a device that took buffers it then could not fill.
  void rewind(std::uint16_t count);

  // Whether the driver wants an interrupt for what was used since the last call (event index:
  // used_event; without: the avail ring's NO_INTERRUPT flag).
  Result<bool> needsInterrupt();

  // With event indexes, asks the driver to notify at the next available chain (avail_event).
  Status requestNotification();
  // Asks the driver to notify when it adds a chain beyond those already available, for a device
  // that waits for more room than the queue holds now. Its value is whether some arrived while
  // asking (then no notification may come for them: look again).
  Result<bool> requestNotificationForMore();

  // What a device does with one usable chain: the number of bytes it wrote into the chain's
  // writable buffers.
  using ChainServer = std::function<std::uint32_t(const DescriptorChain&)>;
  // Serves every available chain and returns each as used (a malformed one with nothing
  // written, after `onMalformed` saw why), until the queue stays empty after asking for the
  // next notification. Its value is whether the driver wants an interrupt now; an error means
  // the ring is corrupt.
  Result<bool> serveAvailable(const ChainServer& serve,
                              const std::function<void(const std::string&)>& onMalformed);

 private:
  Virtqueue(const GuestMemory& memory, QueueLayout layout, bool eventIndex)
      : memory_(&memory), layout_(layout), eventIndex_(eventIndex) {}

  Result<std::uint16_t> availIndex() const;
  Status walk(std::uint16_t head, PoppedChain& popped) const;

  const GuestMemory* memory_;
  QueueLayout layout_;
  bool eventIndex_;
  std::uint16_t nextAvail_ = 0;
  std::uint16_t nextUsed_ = 0;
  // used idx at the last needsInterrupt(), for the event-index window.
  std::uint16_t signalledUsed_ = 0;
};

}  // namespace tandem::vmm::virtio

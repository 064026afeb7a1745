// What a virtio device (block, net, rng, vsock) gives its transport: identity, features, queue
// sizes and configuration space, and what it does once the driver has set it up. The transport
// (virtio_mmio.h) owns the registers and the negotiation; a device sees only the outcome.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "common/result.h"
#include "vmm/virtio/virtqueue.h"

namespace tandem::vmm::virtio {

// Feature bits every tandem device offers (virtio 1.2, section 6).
inline constexpr std::uint64_t kFeatureIndirectDesc = 1ull << 28;
inline constexpr std::uint64_t kFeatureEventIndex = 1ull << 29;
inline constexpr std::uint64_t kFeatureVersion1 = 1ull << 32;

// Raises the device's interrupt, telling the driver that used buffers are waiting.
using UsedBufferInterrupt = std::function<void()>;

class Device {
 public:
  virtual ~Device() = default;

  // The virtio device ID: 2 block, 1 network, 4 entropy, 19 socket.
  virtual std::uint32_t type() const = 0;
  // Device-specific feature bits; the transport adds the ones above.
  virtual std::uint64_t features() const = 0;
  // One entry per queue: the largest size the device accepts for it.
  virtual std::vector<std::uint16_t> queueSizes() const = 0;

  // The device-specific configuration space. Out-of-range reads give zeroes; writes there
  // are ignored.
  virtual void readConfig(std::uint64_t offset, std::span<std::uint8_t> data) const = 0;
  virtual void writeConfig(std::uint64_t offset, std::span<const std::uint8_t> data) = 0;

  // The driver set DRIVER_OK: the device starts with these queues (one per queueSizes() entry,
  // in order) and the features both sides accepted. An error puts the device in
  // DEVICE_NEEDS_RESET.
  virtual Status activate(std::vector<Virtqueue> queues, std::uint64_t features,
                          UsedBufferInterrupt interrupt) = 0;
  // The driver notified queue `index` of new available buffers.
  virtual void notify(std::uint16_t index) = 0;
  // The driver reset the device: drop the queues, forget the features.
  virtual void reset() = 0;
};

}  // namespace tandem::vmm::virtio

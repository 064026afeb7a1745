// The virtio-mmio transport, version 2 ("modern", virtio 1.2 section 4.2): the register window
// through which a guest's driver finds a device, negotiates features, places its queues and
// starts it. Linux finds each window through a `virtio_mmio.device=SIZE@BASE:IRQ` command-line
// parameter. Register accesses arrive as MMIO exits on the VMM's bus (or, for queue
// notifications, as ioeventfd signals that skip the VMM's exit path); interrupts leave through
// the callback given here (an irqfd in the running VMM).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vmm/guest_memory.h"
#include "vmm/io_bus.h"
#include "vmm/virtio/device.h"

namespace tandem::vmm::virtio {

inline constexpr std::uint64_t kMmioWindowBytes = 0x1000;

// Register offsets the VMM needs outside the transport (ioeventfd is bound to QueueNotify).
inline constexpr std::uint64_t kMmioQueueNotify = 0x050;

// Device status bits.
inline constexpr std::uint32_t kStatusAcknowledge = 1;
inline constexpr std::uint32_t kStatusDriver = 2;
inline constexpr std::uint32_t kStatusDriverOk = 4;
inline constexpr std::uint32_t kStatusFeaturesOk = 8;
inline constexpr std::uint32_t kStatusNeedsReset = 64;
inline constexpr std::uint32_t kStatusFailed = 128;

// The command-line parameter that declares a window to Linux.
std::string mmioCommandLine(std::uint64_t base, unsigned irq);

class MmioTransport : public IoHandler {
 public:
  // `raiseInterrupt` asserts the device's interrupt line (edge: one call, one interrupt).
  MmioTransport(std::shared_ptr<Device> device, const GuestMemory& memory,
                std::function<void()> raiseInterrupt);

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  // The driver notified queue `index`: a write to QueueNotify, whether it came as an MMIO exit
  // or through an ioeventfd. Ignored unless the device is running and has that queue.
  void queueNotified(std::uint32_t index);
  std::uint16_t queueCount() const { return static_cast<std::uint16_t>(maxSizes_.size()); }

  std::uint32_t status() const;
  // Why the device stopped (DEVICE_NEEDS_RESET or a refused FEATURES_OK), for the logs.
  std::string problem() const;

 private:
  struct QueueSetup {
    std::uint16_t size = 0;
    bool ready = false;
    std::uint64_t desc = 0;
    std::uint64_t driver = 0;
    std::uint64_t device = 0;
  };

  std::uint32_t readRegister(std::uint64_t offset) const;
  void writeRegister(std::uint64_t offset, std::uint32_t value);
  void writeStatus(std::uint32_t value);
  void activate();
  void resetLocked();
  void fail(std::uint32_t bit, std::string problem);
  QueueSetup* selectedQueue();
  std::uint64_t offeredFeatures() const;

  std::shared_ptr<Device> device_;
  const GuestMemory& memory_;
  std::function<void()> raiseInterrupt_;
  std::vector<std::uint16_t> maxSizes_;

  mutable std::mutex mutex_;
  std::uint32_t status_ = 0;
  std::uint32_t deviceFeaturesSelect_ = 0;
  std::uint32_t driverFeaturesSelect_ = 0;
  std::uint64_t driverFeatures_ = 0;
  std::uint32_t queueSelect_ = 0;
  std::vector<QueueSetup> queues_;
  std::uint32_t configGeneration_ = 0;
  std::string problem_;
  // Set by the device's threads, read and cleared by the driver.
  std::atomic<std::uint32_t> interruptStatus_{0};
};

}  // namespace tandem::vmm::virtio

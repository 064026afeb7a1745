#include "vmm/virtio/virtio_mmio.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "common/log.h"

namespace tandem::vmm::virtio {
namespace {

constexpr std::uint32_t kMagic = 0x74726976;  // "virt"
constexpr std::uint32_t kVersion = 2;
constexpr std::uint32_t kVendor = 0x4d444e54;  // "TNDM"
constexpr std::uint64_t kConfigStart = 0x100;
constexpr std::uint32_t kInterruptUsedBuffer = 1;

enum Register : std::uint64_t {
  kMagicValue = 0x000,
  kVersionRegister = 0x004,
  kDeviceId = 0x008,
  kVendorId = 0x00c,
  kDeviceFeatures = 0x010,
  kDeviceFeaturesSel = 0x014,
  kDriverFeatures = 0x020,
  kDriverFeaturesSel = 0x024,
  kQueueSel = 0x030,
  kQueueNumMax = 0x034,
  kQueueNum = 0x038,
  kQueueReady = 0x044,
  kQueueNotifyRegister = kMmioQueueNotify,
  kInterruptStatus = 0x060,
  kInterruptAck = 0x064,
  kStatus = 0x070,
  kQueueDescLow = 0x080,
  kQueueDescHigh = 0x084,
  kQueueDriverLow = 0x090,
  kQueueDriverHigh = 0x094,
  kQueueDeviceLow = 0x0a0,
  kQueueDeviceHigh = 0x0a4,
  kConfigGeneration = 0x0fc,
};

void setLow(std::uint64_t& target, std::uint32_t value) {
  target = (target & 0xffffffff00000000ull) | value;
}
void setHigh(std::uint64_t& target, std::uint32_t value) {
  target = (target & 0xffffffffull) | (std::uint64_t{value} << 32);
}

}  // namespace

std::string mmioCommandLine(std::uint64_t base, unsigned irq) {
  return fmt::format("virtio_mmio.device={}K@{:#x}:{}", kMmioWindowBytes / 1024, base, irq);
}

MmioTransport::MmioTransport(std::shared_ptr<Device> device, const GuestMemory& memory,
                             std::function<void()> raiseInterrupt)
    : device_(std::move(device)),
      memory_(memory),
      raiseInterrupt_(std::move(raiseInterrupt)),
      maxSizes_(device_->queueSizes()),
      queues_(maxSizes_.size()) {}

std::uint64_t MmioTransport::offeredFeatures() const {
  return device_->features() | kFeatureVersion1 | kFeatureEventIndex | kFeatureIndirectDesc;
}

void MmioTransport::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  std::fill(data.begin(), data.end(), 0);
  if (offset >= kConfigStart) {
    device_->readConfig(offset - kConfigStart, data);
    return;
  }
  // Registers are read as aligned 32-bit words; anything else reads as zeroes.
  if (data.size() != 4 || offset % 4 != 0) {
    spdlog::debug("virtio-mmio: {}-byte read at register {:#x} ignored", data.size(), offset);
    return;
  }
  std::uint32_t value = readRegister(offset);
  std::memcpy(data.data(), &value, 4);
}

void MmioTransport::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (offset >= kConfigStart) {
    device_->writeConfig(offset - kConfigStart, data);
    return;
  }
  if (data.size() != 4 || offset % 4 != 0) {
    spdlog::debug("virtio-mmio: {}-byte write at register {:#x} ignored", data.size(), offset);
    return;
  }
  std::uint32_t value = 0;
  std::memcpy(&value, data.data(), 4);
  if (offset == kQueueNotifyRegister) {
    queueNotified(value);
    return;
  }
  std::lock_guard lock(mutex_);
  writeRegister(offset, value);
}

void MmioTransport::queueNotified(std::uint32_t index) {
  // Outside the lock: the device may do I/O here, and other vCPUs must not wait for it.
  bool running;
  {
    std::lock_guard lock(mutex_);
    running = (status_ & kStatusDriverOk) && !(status_ & kStatusNeedsReset);
  }
  if (running && index < maxSizes_.size()) {
    device_->notify(static_cast<std::uint16_t>(index));
  }
}

std::uint32_t MmioTransport::readRegister(std::uint64_t offset) const {
  std::lock_guard lock(mutex_);
  switch (offset) {
    case kMagicValue:
      return kMagic;
    case kVersionRegister:
      return kVersion;
    case kDeviceId:
      return device_->type();
    case kVendorId:
      return kVendor;
    case kDeviceFeatures:
      return deviceFeaturesSelect_ == 0   ? static_cast<std::uint32_t>(offeredFeatures())
             : deviceFeaturesSelect_ == 1 ? static_cast<std::uint32_t>(offeredFeatures() >> 32)
                                          : 0;
    case kQueueNumMax:
      return queueSelect_ < maxSizes_.size() ? maxSizes_[queueSelect_] : 0;
    case kQueueReady:
      return queueSelect_ < queues_.size() && queues_[queueSelect_].ready ? 1 : 0;
    case kInterruptStatus:
      return interruptStatus_.load();
    case kStatus:
      return status_;
    case kConfigGeneration:
      return configGeneration_;
    default:
      return 0;
  }
}

MmioTransport::QueueSetup* MmioTransport::selectedQueue() {
  if (queueSelect_ >= queues_.size() || queues_[queueSelect_].ready) {
    // The spec forbids changing a ready queue; a driver that tries is ignored.
    return nullptr;
  }
  return &queues_[queueSelect_];
}

void MmioTransport::writeRegister(std::uint64_t offset, std::uint32_t value) {
  // Feature and queue registers are writable only between DRIVER and FEATURES_OK / DRIVER_OK.
  bool negotiating = !(status_ & kStatusFeaturesOk);
  bool configuring = !(status_ & kStatusDriverOk);
  switch (offset) {
    case kDeviceFeaturesSel:
      deviceFeaturesSelect_ = value;
      return;
    case kDriverFeaturesSel:
      driverFeaturesSelect_ = value;
      return;
    case kDriverFeatures:
      if (negotiating && driverFeaturesSelect_ == 0) setLow(driverFeatures_, value);
      if (negotiating && driverFeaturesSelect_ == 1) setHigh(driverFeatures_, value);
      return;
    case kQueueSel:
      queueSelect_ = value;
      return;
    case kInterruptAck:
      interruptStatus_.fetch_and(~value);
      return;
    case kStatus:
      writeStatus(value);
      return;
    default:
      break;
  }
  QueueSetup* queue = configuring ? selectedQueue() : nullptr;
  if (queue == nullptr) {
    spdlog::debug("virtio-mmio: write of {:#x} to register {:#x} ignored", value, offset);
    return;
  }
  switch (offset) {
    case kQueueNum:
      queue->size = static_cast<std::uint16_t>(value > 0xffff ? 0 : value);
      return;
    case kQueueDescLow:
      return setLow(queue->desc, value);
    case kQueueDescHigh:
      return setHigh(queue->desc, value);
    case kQueueDriverLow:
      return setLow(queue->driver, value);
    case kQueueDriverHigh:
      return setHigh(queue->driver, value);
    case kQueueDeviceLow:
      return setLow(queue->device, value);
    case kQueueDeviceHigh:
      return setHigh(queue->device, value);
    case kQueueReady: {
      if (value != 1) return;
      if (queue->size > maxSizes_[queueSelect_]) {
        return fail(kStatusNeedsReset,
                    fmt::format("queue {} of size {} exceeds the maximum {}", queueSelect_,
                                queue->size, maxSizes_[queueSelect_]));
      }
      auto checked = Virtqueue::create(
          memory_, {queue->size, queue->desc, queue->driver, queue->device}, false);
      if (!checked) {
        return fail(kStatusNeedsReset,
                    fmt::format("queue {}: {}", queueSelect_, checked.error().message()));
      }
      queue->ready = true;
      return;
    }
    default:
      spdlog::debug("virtio-mmio: write of {:#x} to register {:#x} ignored", value, offset);
  }
}

void MmioTransport::writeStatus(std::uint32_t value) {
  if (value == 0) {
    resetLocked();
    return;
  }
  std::uint32_t added = value & ~status_;
  if (added & kStatusFeaturesOk) {
    std::uint64_t unknown = driverFeatures_ & ~offeredFeatures();
    if (unknown != 0 || !(driverFeatures_ & kFeatureVersion1)) {
      // Left unset: the driver reads the status back and gives up on the device.
      problem_ = fmt::format(
          "the driver accepted features {:#x}, which the device did not "
          "offer or which lack VERSION_1",
          driverFeatures_);
      value &= ~kStatusFeaturesOk;
      added &= ~kStatusFeaturesOk;
    }
  }
  status_ = value | (status_ & kStatusNeedsReset);
  if ((added & kStatusDriverOk) && (status_ & kStatusFeaturesOk) &&
      !(status_ & kStatusNeedsReset)) {
    activate();
  }
}

void MmioTransport::activate() {
  std::vector<Virtqueue> queues;
  bool eventIndex = (driverFeatures_ & kFeatureEventIndex) != 0;
  for (std::size_t i = 0; i < queues_.size(); ++i) {
    const QueueSetup& setup = queues_[i];
    if (!setup.ready) {
      return fail(kStatusNeedsReset, fmt::format("the driver started the device with queue {} "
                                                 "not ready",
                                                 i));
    }
    auto queue = Virtqueue::create(memory_, {setup.size, setup.desc, setup.driver, setup.device},
                                   eventIndex);
    if (!queue) {
      return fail(kStatusNeedsReset, fmt::format("queue {}: {}", i, queue.error().message()));
    }
    queues.push_back(std::move(queue).value());
  }
  auto interrupt = [this] {
    interruptStatus_.fetch_or(kInterruptUsedBuffer);
    raiseInterrupt_();
  };
  if (auto started = device_->activate(std::move(queues), driverFeatures_, interrupt); !started) {
    fail(kStatusNeedsReset, started.error().message());
  }
}

void MmioTransport::resetLocked() {
  if (status_ & kStatusDriverOk) {
    device_->reset();
  }
  status_ = 0;
  deviceFeaturesSelect_ = 0;
  driverFeaturesSelect_ = 0;
  driverFeatures_ = 0;
  queueSelect_ = 0;
  queues_.assign(maxSizes_.size(), QueueSetup{});
  interruptStatus_ = 0;
  problem_.clear();
}

void MmioTransport::fail(std::uint32_t bit, std::string problem) {
  spdlog::warn("virtio device {}: {}", device_->type(), problem);
  problem_ = std::move(problem);
  status_ |= bit;
}

std::uint32_t MmioTransport::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

std::string MmioTransport::problem() const {
  std::lock_guard lock(mutex_);
  return problem_;
}

}  // namespace tandem::vmm::virtio

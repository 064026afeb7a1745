// virtio-rng (device type 4): one queue of writable buffers that the device fills from the
// host's getrandom(), so the guest's entropy pool is seeded without trusting its CPU alone.
#pragma once

#include <mutex>
#include <optional>

#include "vmm/virtio/device.h"

namespace tandem::vmm::virtio {

class EntropyDevice : public Device {
 public:
  static constexpr std::uint16_t kQueueSize = 256;

  std::uint32_t type() const override { return 4; }
  std::uint64_t features() const override { return 0; }
  std::vector<std::uint16_t> queueSizes() const override { return {kQueueSize}; }
  void readConfig(std::uint64_t, std::span<std::uint8_t> data) const override;
  void writeConfig(std::uint64_t, std::span<const std::uint8_t>) override {}
  Status activate(std::vector<Virtqueue> queues, std::uint64_t features,
                  UsedBufferInterrupt interrupt) override;
  void notify(std::uint16_t index) override;
  void reset() override;

 private:
  std::mutex mutex_;
  std::optional<Virtqueue> queue_;
  UsedBufferInterrupt interrupt_;
};

}  // namespace tandem::vmm::virtio

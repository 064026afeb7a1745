// A TAP device as a virtio-net device's frame port.
#pragma once

#include <memory>

#include "common/tap_device.h"
#include "vmm/virtio/net.h"

namespace tandem::vmm::virtio {

class TapPort : public FramePort {
 public:
  explicit TapPort(TapDevice tap) : tap_(std::move(tap)), description_("TAP " + tap_.name()) {}

  int fd() const override { return tap_.fd(); }
  Status acceptOffloads(bool checksum, bool tso4, bool tso6) override;
  const std::string& describe() const override { return description_; }

 private:
  TapDevice tap_;
  std::string description_;
};

}  // namespace tandem::vmm::virtio

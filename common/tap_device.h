// A TAP device: an Ethernet interface on the host whose frames a process reads and writes
// through a file descriptor, here each frame behind a 12-byte virtio-net header (IFF_VNET_HDR),
// so that a microVM's checksum and segmentation offloads pass through unchanged. Opening a name
// that does not exist creates the device, and it disappears when the descriptor closes.
#pragma once

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem {

// The virtio-net header with num_buffers, as VIRTIO_F_VERSION_1 devices exchange it.
inline constexpr int kTapVnetHeaderBytes = 12;

class TapDevice {
 public:
  // `name` may hold a %d for the kernel to number ("tandem%d"). The descriptor is non-blocking.
  static Result<TapDevice> open(const std::string& name);

  int fd() const { return fd_.get(); }
  // The interface's name, as the kernel gave it.
  const std::string& name() const { return name_; }

  // What the reader accepts from the device (TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6): frames with a
  // partial checksum or larger than the MTU come only when these allow them.
  Status setOffloads(unsigned tunFlags);

 private:
  TapDevice(UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}

  UniqueFd fd_;
  std::string name_;
};

}  // namespace tandem

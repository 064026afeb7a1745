// virtio-net (device type 1) over a frame port: a TAP device on the host, or in tests a datagram
// socket. Frames keep the 12-byte virtio-net header end to end, so the guest's checksum and
// segmentation offloads reach the host kernel as they are, and receive buffers are filled
// straight from the port with one readv (mergeable receive buffers: a frame may span several).
// Transmit runs when the driver notifies; receive when the VMM's main loop finds the port
// readable, and only while the guest has room: without room the port is not polled, and the
// host kernel queues (or drops) frames as it does for any slow reader.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "vmm/virtio/device.h"

namespace tandem::vmm::virtio {

inline constexpr std::uint64_t kNetFeatureChecksum = 1ull << 0;
inline constexpr std::uint64_t kNetFeatureGuestChecksum = 1ull << 1;
inline constexpr std::uint64_t kNetFeatureMac = 1ull << 5;
inline constexpr std::uint64_t kNetFeatureGuestTso4 = 1ull << 7;
inline constexpr std::uint64_t kNetFeatureGuestTso6 = 1ull << 8;
inline constexpr std::uint64_t kNetFeatureHostTso4 = 1ull << 11;
inline constexpr std::uint64_t kNetFeatureHostTso6 = 1ull << 12;
inline constexpr std::uint64_t kNetFeatureMergeableBuffers = 1ull << 15;
inline constexpr std::uint64_t kNetFeatureStatus = 1ull << 16;

// struct virtio_net_hdr_v1: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset and
// num_buffers, the last at offset 10.
inline constexpr std::size_t kNetHeaderBytes = 12;
inline constexpr std::size_t kNetNumBuffersOffset = 10;
// The largest frame a port delivers: with segmentation offloads a 64 KiB packet plus an
// Ethernet header with a VLAN tag; without, a 1500-byte MTU's frame.
inline constexpr std::size_t kNetLargestOffloadedFrame = kNetHeaderBytes + 65550;
inline constexpr std::size_t kNetLargestPlainFrame = kNetHeaderBytes + 1518;

using MacAddress = std::array<std::uint8_t, 6>;

// One frame per read or write, each behind the virtio-net header, on a non-blocking fd.
class FramePort {
 public:
  virtual ~FramePort() = default;
  virtual int fd() const = 0;
  // The guest accepts these offloads: from now on the port may deliver frames with a partial
  // checksum, or segments up to 64 KiB.
  virtual Status acceptOffloads(bool checksum, bool tso4, bool tso6) = 0;
  virtual const std::string& describe() const = 0;
};

struct NetCounters {
  std::uint64_t receivedFrames = 0;
  std::uint64_t receivedBytes = 0;
  std::uint64_t sentFrames = 0;
  std::uint64_t sentBytes = 0;
  // Frames the guest sent that the port refused (malformed offload headers, a full socket).
  std::uint64_t sendErrors = 0;
  // Interrupts raised: each costs the guest two MMIO exits (status read, acknowledgement).
  std::uint64_t interrupts = 0;
};

class NetDevice : public Device {
 public:
  static constexpr std::uint16_t kQueueSize = 256;
  static constexpr std::uint16_t kReceiveQueue = 0;
  static constexpr std::uint16_t kTransmitQueue = 1;

  // `wake` interrupts the VMM's main loop, so that it polls the port again once the guest
  // gives receive buffers from a vCPU thread.
  NetDevice(std::unique_ptr<FramePort> port, MacAddress mac, std::function<void()> wake);

  std::uint32_t type() const override { return 1; }
  std::uint64_t features() const override;
  std::vector<std::uint16_t> queueSizes() const override { return {kQueueSize, kQueueSize}; }
  void readConfig(std::uint64_t offset, std::span<std::uint8_t> data) const override;
  void writeConfig(std::uint64_t, std::span<const std::uint8_t>) override {}
  Status activate(std::vector<Virtqueue> queues, std::uint64_t features,
                  UsedBufferInterrupt interrupt) override;
  void notify(std::uint16_t index) override;
  void reset() override;

  // For the main loop: the port's fd while the device runs and the guest has receive buffers,
  // else -1.
  int receiveFd() const;
  // The port is readable: moves frames into the guest until the port runs dry or the guest runs
  // out of buffers.
  void receive();

  NetCounters counters() const;

 private:
  void transmitLocked();
  // One frame from the port into receive buffers; false when there is nothing more to do now.
  bool receiveOneLocked();
  void stopLocked(const std::string& problem);

  std::unique_ptr<FramePort> port_;
  MacAddress mac_;
  std::function<void()> wake_;

  mutable std::mutex mutex_;
  std::optional<Virtqueue> receiveQueue_;
  std::optional<Virtqueue> transmitQueue_;
  bool mergeable_ = false;
  std::size_t largestFrame_ = kNetLargestPlainFrame;
  UsedBufferInterrupt interrupt_;
  NetCounters counters_;
  // Polled by the main loop without the lock: the port's fd, or -1.
  std::atomic<int> receiveFd_{-1};
};

}  // namespace tandem::vmm::virtio

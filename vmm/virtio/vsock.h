// virtio-vsock (device type 19) with its host side as Unix sockets, as Firecracker does it, so
// that no host kernel module is needed:
// - a host program reaches guest port P by connecting to the device's Unix socket and sending
//   "CONNECT P\n"; once the guest accepts, it reads "OK <host port>\n" and the stream is the
//   connection;
// - a guest connection to host port P (CID 2) becomes a connection to the Unix socket
//   "<socket>_P", refused when nothing listens there.
// Every packet the guest sends is checked: its header, addresses, length and credit. A guest
// that breaks the protocol loses that connection (a reset), never the VMM's memory or time:
// the device buffers at most kConnectionBuffer bytes per connection, which is the credit it
// grants. Host sockets are served on the VMM's main loop through one epoll fd.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/unique_fd.h"
#include "common/unix_socket.h"
#include "vmm/virtio/device.h"
#include "vmm/virtio/vsock_packet.h"

namespace tandem::vmm::virtio {

struct VsockCounters {
  std::uint64_t connections = 0;
  std::uint64_t resets = 0;
  std::uint64_t bytesToGuest = 0;
  std::uint64_t bytesToHost = 0;
  // Packets dropped as malformed: short, oversized, spoofed addresses, unknown types.
  std::uint64_t malformedPackets = 0;
};

class VsockDevice : public Device {
 public:
  static constexpr std::uint16_t kQueueSize = 256;
  static constexpr std::uint16_t kReceiveQueue = 0;
  static constexpr std::uint16_t kTransmitQueue = 1;
  static constexpr std::uint16_t kEventQueue = 2;
  // What each connection may hold in flight towards the host, the credit the guest gets.
  static constexpr std::uint32_t kConnectionBuffer = 256 * 1024;
  // The largest payload in one packet, either way (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE).
  static constexpr std::uint32_t kMaxPayload = 64 * 1024;
  // Host ports given to connections the host opens.
  static constexpr std::uint32_t kFirstEphemeralPort = 1u << 30;
  // Connections at once, each a host socket: more, and a guest's request is reset and a host
  // client closed, so that neither side can run the VMM out of descriptors.
  static constexpr std::size_t kMaxConnections = 1024;
  // How long a host client has to send its CONNECT line, and the guest to answer the request
  // that follows: a silent client or guest is then closed (the guest's half reset), so that none
  // keeps a connection slot for ever. Firecracker allows 2 s; this leaves room for guests under
  // nested emulation, which answer tens of times slower.
  static constexpr std::chrono::milliseconds kPendingTimeout{10000};

  // `listener` is a listening, non-blocking Unix socket at `socketPath`.
  static Result<std::unique_ptr<VsockDevice>> create(
      std::uint64_t guestCid, UniqueFd listener, std::string socketPath,
      std::chrono::milliseconds pendingTimeout = kPendingTimeout);
  ~VsockDevice() override;

  std::uint32_t type() const override { return 19; }
  std::uint64_t features() const override { return 0; }
  std::vector<std::uint16_t> queueSizes() const override {
    return {kQueueSize, kQueueSize, kQueueSize};
  }
  void readConfig(std::uint64_t offset, std::span<std::uint8_t> data) const override;
  void writeConfig(std::uint64_t, std::span<const std::uint8_t>) override {}
  Status activate(std::vector<Virtqueue> queues, std::uint64_t features,
                  UsedBufferInterrupt interrupt) override;
  void notify(std::uint16_t index) override;
  void reset() override;

  // For the main loop: readable when a host socket needs service, while the device runs; -1
  // before the driver starts it.
  int hostFd() const;
  void serviceHost();

  VsockCounters counters() const;

  // The guest's connections to host ports reach socketPath_'s folder through `folder` from now
  // on: the same folder under another name, as a jailed monitor sees it (vmm_jail.h).
  Status reachSocketsThrough(const std::string& folder);

 private:
  struct Connection;
  // A packet from the device to the guest without payload; its credit fields are filled when
  // it is delivered, so they are current.
  struct ControlPacket {
    std::uint32_t hostPort = 0;
    std::uint32_t guestPort = 0;
    VsockOp op = VsockOp::kReset;
    std::uint32_t flags = 0;
  };

  VsockDevice(std::uint64_t guestCid, UniqueFd listener, UniqueFd epoll, UniqueFd timer,
              std::string socketPath, UnixSocketFolder socketFolder,
              std::chrono::milliseconds pendingTimeout);

  void transmitLocked();
  void handleGuestPacket(const DescriptorChain& chain);
  void guestConnects(const VsockHeader& header);
  void guestSendsData(Connection& connection, const DescriptorChain& chain, std::uint32_t len);
  void guestShutsDown(Connection& connection, std::uint32_t flags);

  void acceptHostConnections();
  void readHandshake(Connection& connection);
  void flushToHost(Connection& connection);
  void hostHungUp(Connection& connection);

  void deliverLocked();
  std::optional<DescriptorChain> takeReceiveChain();
  bool deliverControl(const DescriptorChain& chain, const ControlPacket& packet);
  bool deliverData(Connection& connection, const DescriptorChain& chain);
  VsockHeader headerFor(std::uint32_t hostPort, std::uint32_t guestPort, VsockOp op);

  Connection* find(std::uint32_t hostPort, std::uint32_t guestPort);
  Connection& add(UniqueFd stream);
  void queueControl(Connection& connection, VsockOp op, std::uint32_t flags = 0);
  // Answers a packet for no connection (or one the device cannot take) with a reset.
  void refuse(const VsockHeader& header);
  void advertiseCreditIfDue(Connection& connection);
  void resetConnection(Connection& connection);
  void closeConnection(Connection& connection);
  void updateInterest(Connection& connection);
  // Closes the connections pending past the timeout, then arms the timer for the next one due.
  void expirePending();
  void armPendingTimer();
  void stopLocked(const std::string& problem);

  std::uint64_t guestCid_;
  UniqueFd listener_;
  UniqueFd epoll_;
  UniqueFd timer_;
  std::string socketPath_;
  // socketPath_'s folder, where the guest's connections to host port P reach NAME_P.
  UnixSocketFolder socketFolder_;
  std::chrono::milliseconds pendingTimeout_;

  mutable std::mutex mutex_;
  std::optional<Virtqueue> receiveQueue_;
  std::optional<Virtqueue> transmitQueue_;
  UsedBufferInterrupt interrupt_;
  bool receiveStarved_ = false;
  bool receiveUsed_ = false;
  // By host socket fd.
  std::map<int, Connection> connections_;
  std::map<std::pair<std::uint32_t, std::uint32_t>, int> byPorts_;
  std::deque<ControlPacket> control_;
  std::uint32_t nextEphemeralPort_ = kFirstEphemeralPort;
  VsockCounters counters_;
};

}  // namespace tandem::vmm::virtio

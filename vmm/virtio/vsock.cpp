#include "vmm/virtio/vsock.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/log.h"
#include "common/unix_socket.h"
#include "vmm/virtio/chain_bytes.h"

namespace tandem::vmm::virtio {
namespace {

// "CONNECT 4294967295\n" and a little slack: a longer first line is not a request.
constexpr std::size_t kMaxHandshake = 32;
// Packets delivered per call, so that one busy connection cannot hold the main loop.
constexpr int kDeliveryBudget = 256;

std::optional<std::uint32_t> parseConnect(std::string_view line) {
  constexpr std::string_view kVerb = "CONNECT ";
  if (!line.starts_with(kVerb)) return std::nullopt;
  line.remove_prefix(kVerb.size());
  std::uint32_t port = 0;
  auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), port);
  if (error != std::errc() || end != line.data() + line.size() || line.empty()) {
    return std::nullopt;
  }
  return port;
}

}  // namespace

struct VsockDevice::Connection {
  enum class State {
    kHandshake,   // a host client that has not sent its CONNECT line yet
    kConnecting,  // the guest was asked, no answer yet
    kEstablished,
  };
  UniqueFd stream;
  State state = State::kHandshake;
  // When it entered kHandshake or kConnecting, for the pending timeout.
  std::chrono::steady_clock::time_point pendingSince = std::chrono::steady_clock::now();
  std::uint32_t hostPort = 0;
  std::uint32_t guestPort = 0;
  // Guest to host: bytes the host socket has not taken yet, and the credit counters.
  std::vector<std::uint8_t> toHost;
  // How much of toHost's front is the device's own "OK" line, not the guest's bytes.
  std::size_t replyBytes = 0;
  std::uint32_t receivedFromGuest = 0;
  std::uint32_t forwarded = 0;
  std::uint32_t advertisedForwarded = 0;
  bool creditUpdateQueued = false;
  // Host to guest: what was sent, and the guest's last word on its buffer.
  std::uint32_t sentToGuest = 0;
  std::uint32_t peerBufAlloc = 0;
  std::uint32_t peerForwarded = 0;
  bool hostReadable = false;
  bool hostEnded = false;
  bool hostHungUp = false;
  bool guestSendDone = false;
  bool guestReceiveDone = false;
  std::uint32_t interest = 0;

  std::uint32_t guestCredit() const {
    std::uint32_t inFlight = sentToGuest - peerForwarded;
    return inFlight >= peerBufAlloc ? 0 : peerBufAlloc - inFlight;
  }
};

Result<std::unique_ptr<VsockDevice>> VsockDevice::create(std::uint64_t guestCid, UniqueFd listener,
                                                         std::string socketPath,
                                                         std::chrono::milliseconds pendingTimeout) {
  if (guestCid < 3 || guestCid > 0xffffffffu) {
    return Error("a guest's vsock CID is 3 to 4294967295, not " + std::to_string(guestCid), EINVAL);
  }
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) {
    return Error::fromErrno("cannot create an epoll fd for virtio-vsock");
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = listener.get();
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, listener.get(), &event) != 0) {
    return Error::fromErrno("cannot watch the vsock socket " + socketPath);
  }
  UniqueFd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  event.data.fd = timer.get();
  if (!timer || ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, timer.get(), &event) != 0) {
    return Error::fromErrno("cannot make the timer of virtio-vsock's pending connections");
  }
  auto slash = socketPath.rfind('/');
  TANDEM_ASSIGN_OR_RETURN(
      UnixSocketFolder folder,
      UnixSocketFolder::open(slash == std::string::npos ? "." : socketPath.substr(0, slash)));
  return std::unique_ptr<VsockDevice>(
      new VsockDevice(guestCid, std::move(listener), std::move(epoll), std::move(timer),
                      std::move(socketPath), std::move(folder), pendingTimeout));
}

VsockDevice::VsockDevice(std::uint64_t guestCid, UniqueFd listener, UniqueFd epoll, UniqueFd timer,
                         std::string socketPath, UnixSocketFolder socketFolder,
                         std::chrono::milliseconds pendingTimeout)
    : guestCid_(guestCid),
      listener_(std::move(listener)),
      epoll_(std::move(epoll)),
      timer_(std::move(timer)),
      socketPath_(std::move(socketPath)),
      socketFolder_(std::move(socketFolder)),
      pendingTimeout_(pendingTimeout) {}

VsockDevice::~VsockDevice() = default;

Status VsockDevice::reachSocketsThrough(const std::string& folder) {
  TANDEM_ASSIGN_OR_RETURN(socketFolder_, UnixSocketFolder::open(folder));
  return okStatus();
}

void VsockDevice::readConfig(std::uint64_t offset, std::span<std::uint8_t> data) const {
  // struct virtio_vsock_config: le64 guest_cid.
  for (std::size_t i = 0; i < data.size(); ++i) {
    std::uint64_t at = offset + i;
    data[i] = at < 8 ? static_cast<std::uint8_t>(guestCid_ >> (8 * at)) : 0;
  }
}

Status VsockDevice::activate(std::vector<Virtqueue> queues, std::uint64_t,
                             UsedBufferInterrupt interrupt) {
  if (queues.size() != 3) {
    return Error("virtio-vsock has a receive, a transmit and an event queue, not " +
                     std::to_string(queues.size()) + " queues",
                 EINVAL);
  }
  std::lock_guard lock(mutex_);
  receiveQueue_.emplace(std::move(queues[kReceiveQueue]));
  transmitQueue_.emplace(std::move(queues[kTransmitQueue]));
  interrupt_ = std::move(interrupt);
  receiveStarved_ = false;
  return okStatus();
}

int VsockDevice::hostFd() const {
  std::lock_guard lock(mutex_);
  return receiveQueue_ ? epoll_.get() : -1;
}

VsockCounters VsockDevice::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

void VsockDevice::notify(std::uint16_t index) {
  std::lock_guard lock(mutex_);
  if (!receiveQueue_) return;
  if (index == kTransmitQueue) {
    transmitLocked();
  } else if (index == kReceiveQueue) {
    receiveStarved_ = false;
  }
  deliverLocked();
}

void VsockDevice::serviceHost() {
  std::lock_guard lock(mutex_);
  if (!receiveQueue_) return;
  epoll_event events[64];
  int ready = ::epoll_wait(epoll_.get(), events, 64, 0);
  for (int i = 0; i < ready; ++i) {
    int fd = events[i].data.fd;
    if (fd == listener_.get()) {
      acceptHostConnections();
      continue;
    }
    if (fd == timer_.get()) {
      std::uint64_t expirations = 0;
      [[maybe_unused]] ssize_t n = ::read(timer_.get(), &expirations, sizeof expirations);
      expirePending();
      continue;
    }
    auto found = connections_.find(fd);
    if (found == connections_.end()) continue;  // closed earlier in this round
    Connection& connection = found->second;
    std::uint32_t what = events[i].events;
    if (what & (EPOLLHUP | EPOLLERR)) {
      hostHungUp(connection);
      continue;
    }
    if (what & EPOLLIN) {
      if (connection.state == Connection::State::kHandshake) {
        readHandshake(connection);
        continue;
      }
      connection.hostReadable = true;
    }
    if (what & EPOLLOUT) {
      flushToHost(connection);
    }
  }
  armPendingTimer();
  deliverLocked();
}

void VsockDevice::reset() {
  std::lock_guard lock(mutex_);
  receiveQueue_.reset();
  transmitQueue_.reset();
  interrupt_ = nullptr;
  control_.clear();
  byPorts_.clear();
  // The guest's sockets are gone with its driver; so are the host ends.
  connections_.clear();
}

void VsockDevice::stopLocked(const std::string& problem) {
  spdlog::warn("virtio-vsock: {}; the device stops until the driver resets it", problem);
  receiveQueue_.reset();
  transmitQueue_.reset();
  control_.clear();
  byPorts_.clear();
  connections_.clear();
}

// --- Guest to host ---------------------------------------------------------------------------

void VsockDevice::transmitLocked() {
  auto interrupt = transmitQueue_->serveAvailable(
      [this](const DescriptorChain& chain) {
        handleGuestPacket(chain);
        return std::uint32_t{0};
      },
      [this](const std::string& problem) {
        ++counters_.malformedPackets;
        spdlog::debug("virtio-vsock: {}", problem);
      });
  if (!interrupt) {
    stopLocked(interrupt.error().message());
    return;
  }
  if (*interrupt && interrupt_) interrupt_();
}

void VsockDevice::handleGuestPacket(const DescriptorChain& chain) {
  std::array<std::uint8_t, kVsockHeaderBytes> bytes{};
  if (readAcross(chain.readable, 0, bytes) < kVsockHeaderBytes) {
    ++counters_.malformedPackets;
    spdlog::debug("virtio-vsock: a transmitted packet shorter than its header");
    return;
  }
  VsockHeader header = decodeVsockHeader(bytes);
  if (header.srcCid != guestCid_ || header.dstCid != kVsockHostCid) {
    // Another CID's traffic has no place on this device.
    ++counters_.malformedPackets;
    spdlog::debug("virtio-vsock: a packet from CID {} to CID {}; dropped", header.srcCid,
                  header.dstCid);
    return;
  }
  Connection* connection = find(header.dstPort, header.srcPort);
  bool fits = header.len <= kMaxPayload && header.len <= chain.readableBytes() - kVsockHeaderBytes;
  if (header.type != kVsockTypeStream || !fits) {
    ++counters_.malformedPackets;
    spdlog::debug("virtio-vsock: a packet of type {} with {} bytes of payload; refused",
                  header.type, header.len);
    if (header.op != VsockOp::kReset) {
      if (connection) {
        resetConnection(*connection);
      } else {
        refuse(header);
      }
    }
    return;
  }
  if (!connection) {
    if (header.op == VsockOp::kRequest) {
      guestConnects(header);
    } else if (header.op != VsockOp::kReset) {
      refuse(header);
    }
    return;
  }
  connection->peerBufAlloc = header.bufAlloc;
  connection->peerForwarded = header.fwdCnt;
  bool established = connection->state == Connection::State::kEstablished;
  switch (header.op) {
    case VsockOp::kResponse:
      if (connection->state != Connection::State::kConnecting) {
        resetConnection(*connection);
        return;
      }
      connection->state = Connection::State::kEstablished;
      {
        std::string ok = "OK " + std::to_string(connection->hostPort) + "\n";
        connection->toHost.assign(ok.begin(), ok.end());
        connection->replyBytes = ok.size();
      }
      flushToHost(*connection);
      return;
    case VsockOp::kReset:
      closeConnection(*connection);
      return;
    case VsockOp::kShutdown:
      if (established) {
        guestShutsDown(*connection, header.flags);
      } else {
        resetConnection(*connection);
      }
      return;
    case VsockOp::kData:
      if (established) {
        guestSendsData(*connection, chain, header.len);
      } else {
        resetConnection(*connection);
      }
      return;
    case VsockOp::kCreditUpdate:
      return;  // the counters above are the update
    case VsockOp::kCreditRequest:
      queueControl(*connection, VsockOp::kCreditUpdate);
      return;
    default:
      ++counters_.malformedPackets;
      resetConnection(*connection);
      return;
  }
}

void VsockDevice::guestConnects(const VsockHeader& header) {
  if (connections_.size() >= kMaxConnections) {
    spdlog::debug("virtio-vsock: {} connections already; the guest's request is refused",
                  connections_.size());
    refuse(header);
    return;
  }
  std::string name = socketPath_.substr(socketPath_.rfind('/') + 1);
  auto stream =
      socketFolder_.connect(name + "_" + std::to_string(header.dstPort), /*nonBlocking=*/true);
  if (!stream) {
    spdlog::debug("virtio-vsock: the guest's connection to host port {}: {}", header.dstPort,
                  stream.error().describe());
    refuse(header);
    return;
  }
  Connection& connection = add(std::move(stream).value());
  connection.state = Connection::State::kEstablished;
  connection.hostPort = header.dstPort;
  connection.guestPort = header.srcPort;
  connection.peerBufAlloc = header.bufAlloc;
  connection.peerForwarded = header.fwdCnt;
  byPorts_[{connection.hostPort, connection.guestPort}] = connection.stream.get();
  queueControl(connection, VsockOp::kResponse);
}

void VsockDevice::guestSendsData(Connection& connection, const DescriptorChain& chain,
                                 std::uint32_t len) {
  if (connection.guestSendDone) {
    resetConnection(connection);
    return;
  }
  if (connection.toHost.size() - connection.replyBytes + len > kConnectionBuffer) {
    // More than the credit the device granted: the guest broke the protocol.
    spdlog::debug("virtio-vsock: guest port {} sent past its credit; reset", connection.guestPort);
    resetConnection(connection);
    return;
  }
  connection.receivedFromGuest += len;
  std::vector<iovec> payload = iovecsOf(chain.readable, kVsockHeaderBytes, len);
  std::size_t written = 0;
  if (connection.toHost.empty()) {
    ssize_t n;
    do {
      n = ::writev(connection.stream.get(), payload.data(), static_cast<int>(payload.size()));
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN) {
      resetConnection(connection);
      return;
    }
    written = n > 0 ? static_cast<std::size_t>(n) : 0;
    connection.forwarded += static_cast<std::uint32_t>(written);
    counters_.bytesToHost += written;
  }
  std::size_t skip = written;
  for (const iovec& piece : payload) {
    auto* bytes = static_cast<std::uint8_t*>(piece.iov_base);
    std::size_t from = std::min(skip, piece.iov_len);
    skip -= from;
    connection.toHost.insert(connection.toHost.end(), bytes + from, bytes + piece.iov_len);
  }
  advertiseCreditIfDue(connection);
  updateInterest(connection);
}

void VsockDevice::guestShutsDown(Connection& connection, std::uint32_t flags) {
  connection.guestSendDone |= (flags & kVsockShutdownSend) != 0;
  connection.guestReceiveDone |= (flags & kVsockShutdownReceive) != 0;
  flushToHost(connection);
}

// --- Host side -------------------------------------------------------------------------------

void VsockDevice::acceptHostConnections() {
  for (;;) {
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        spdlog::warn("virtio-vsock: cannot accept on {}: {}", socketPath_, std::strerror(errno));
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    UniqueFd stream(fd);
    if (connections_.size() >= kMaxConnections) {
      spdlog::warn("virtio-vsock: {} connections already on {}; a client is turned away",
                   connections_.size(), socketPath_);
      continue;
    }
    add(std::move(stream));
  }
}

void VsockDevice::readHandshake(Connection& connection) {
  // Peeked first, so that bytes the client sends after its line stay in the socket for the guest.
  char line[kMaxHandshake];
  ssize_t n = ::recv(connection.stream.get(), line, sizeof line, MSG_PEEK);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  auto* end =
      n > 0 ? static_cast<char*>(std::memchr(line, '\n', static_cast<std::size_t>(n))) : nullptr;
  if (end == nullptr) {
    if (n <= 0 || static_cast<std::size_t>(n) == sizeof line) {
      closeConnection(connection);
    }
    return;
  }
  auto length = static_cast<std::size_t>(end - line) + 1;
  [[maybe_unused]] ssize_t taken = ::recv(connection.stream.get(), line, length, 0);
  auto port = parseConnect({line, length - 1});
  if (!port) {
    spdlog::debug("virtio-vsock: a client on {} sent no CONNECT line", socketPath_);
    closeConnection(connection);
    return;
  }
  std::uint32_t hostPort = nextEphemeralPort_;
  while (find(hostPort, *port) != nullptr) ++hostPort;
  nextEphemeralPort_ = std::max(hostPort + 1, kFirstEphemeralPort);
  connection.hostPort = hostPort;
  connection.guestPort = *port;
  connection.state = Connection::State::kConnecting;
  connection.pendingSince = std::chrono::steady_clock::now();
  byPorts_[{hostPort, *port}] = connection.stream.get();
  queueControl(connection, VsockOp::kRequest);
  updateInterest(connection);
}

void VsockDevice::flushToHost(Connection& connection) {
  if (!connection.toHost.empty()) {
    ssize_t n;
    do {
      n = ::send(connection.stream.get(), connection.toHost.data(), connection.toHost.size(),
                 MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN) {
      resetConnection(connection);
      return;
    }
    if (n > 0) {
      auto sent = static_cast<std::size_t>(n);
      connection.toHost.erase(connection.toHost.begin(), connection.toHost.begin() + n);
      std::size_t reply = std::min(sent, connection.replyBytes);
      connection.replyBytes -= reply;
      connection.forwarded += static_cast<std::uint32_t>(sent - reply);
      counters_.bytesToHost += sent - reply;
    }
  }
  if (connection.toHost.empty() && connection.guestSendDone) {
    if (connection.guestReceiveDone || connection.hostEnded) {
      // Both ways are over: the guest waits for a reset to free its socket.
      queueControl(connection, VsockOp::kReset);
      closeConnection(connection);
      return;
    }
    ::shutdown(connection.stream.get(), SHUT_WR);
  }
  advertiseCreditIfDue(connection);
  updateInterest(connection);
}

void VsockDevice::hostHungUp(Connection& connection) {
  if (connection.state != Connection::State::kEstablished) {
    if (connection.state == Connection::State::kConnecting) {
      queueControl(connection, VsockOp::kReset);
    }
    closeConnection(connection);
    return;
  }
  // The host end is closed: what it sent before is still readable, and reads no longer block.
  // It leaves epoll, which would report the hang-up again at every wait.
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, connection.stream.get(), nullptr);
  connection.interest = 0;
  connection.hostHungUp = true;
  connection.hostReadable = true;
  connection.toHost.clear();
  connection.replyBytes = 0;
  connection.forwarded = connection.receivedFromGuest;
}

// --- Host to guest ---------------------------------------------------------------------------

std::optional<DescriptorChain> VsockDevice::takeReceiveChain() {
  for (bool asked = false;;) {
    auto popped = receiveQueue_->pop();
    if (!popped) {
      stopLocked(popped.error().message());
      return std::nullopt;
    }
    if (popped->kind == PoppedChain::Kind::kEmpty) {
      if (asked) {
        receiveStarved_ = true;
        return std::nullopt;
      }
      if (Status requested = receiveQueue_->requestNotification(); !requested) {
        stopLocked(requested.error().message());
        return std::nullopt;
      }
      asked = true;
      continue;
    }
    std::string problem = popped->problem;
    if (popped->kind == PoppedChain::Kind::kChain) {
      if (!popped->chain.readable.empty()) {
        problem = "a receive chain with device-readable buffers";
      } else if (popped->chain.writableBytes() < kVsockHeaderBytes) {
        problem = "a receive chain too small for a packet header";
      }
    }
    if (problem.empty()) {
      return std::move(popped->chain);
    }
    ++counters_.malformedPackets;
    spdlog::debug("virtio-vsock: {}", problem);
    if (Status returned = receiveQueue_->pushUsed(popped->chain.head, 0); !returned) {
      stopLocked(returned.error().message());
      return std::nullopt;
    }
    receiveUsed_ = true;
  }
}

VsockHeader VsockDevice::headerFor(std::uint32_t hostPort, std::uint32_t guestPort, VsockOp op) {
  VsockHeader header{.srcCid = kVsockHostCid,
                     .dstCid = guestCid_,
                     .srcPort = hostPort,
                     .dstPort = guestPort,
                     .op = op};
  if (Connection* connection = find(hostPort, guestPort)) {
    header.bufAlloc = kConnectionBuffer;
    header.fwdCnt = connection->forwarded;
    connection->advertisedForwarded = connection->forwarded;
    connection->creditUpdateQueued = false;
  }
  return header;
}

bool VsockDevice::deliverControl(const DescriptorChain& chain, const ControlPacket& packet) {
  VsockHeader header = headerFor(packet.hostPort, packet.guestPort, packet.op);
  header.flags = packet.flags;
  std::array<std::uint8_t, kVsockHeaderBytes> bytes;
  encodeVsockHeader(header, bytes);
  writeAcross(iovecsOf(chain.writable), 0, bytes);
  if (Status pushed = receiveQueue_->pushUsed(chain.head, kVsockHeaderBytes); !pushed) {
    stopLocked(pushed.error().message());
    return false;
  }
  receiveUsed_ = true;
  return true;
}

bool VsockDevice::deliverData(Connection& connection, const DescriptorChain& chain) {
  std::size_t room =
      std::min<std::uint64_t>(chain.writableBytes() - kVsockHeaderBytes, kMaxPayload);
  room = std::min<std::size_t>(room, connection.guestCredit());
  std::vector<iovec> payload = iovecsOf(chain.writable, kVsockHeaderBytes, room);
  ssize_t n;
  do {
    n = ::readv(connection.stream.get(), payload.data(), static_cast<int>(payload.size()));
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    receiveQueue_->rewind(1);
    if (n < 0 && errno == EAGAIN) {
      connection.hostReadable = false;
    } else if (n < 0) {
      resetConnection(connection);
    } else {
      // The host will send no more: the guest reads what it has, then end of stream.
      connection.hostReadable = false;
      connection.hostEnded = true;
      std::uint32_t flags = kVsockShutdownSend;
      if (connection.hostHungUp) flags |= kVsockShutdownReceive;
      queueControl(connection, VsockOp::kShutdown, flags);
      if (connection.hostHungUp) {
        closeConnection(connection);
      }
    }
    return false;
  }
  VsockHeader header = headerFor(connection.hostPort, connection.guestPort, VsockOp::kData);
  header.len = static_cast<std::uint32_t>(n);
  std::array<std::uint8_t, kVsockHeaderBytes> bytes;
  encodeVsockHeader(header, bytes);
  writeAcross(iovecsOf(chain.writable), 0, bytes);
  if (Status pushed = receiveQueue_->pushUsed(chain.head, kVsockHeaderBytes + header.len);
      !pushed) {
    stopLocked(pushed.error().message());
    return false;
  }
  receiveUsed_ = true;
  connection.sentToGuest += header.len;
  counters_.bytesToGuest += header.len;
  return true;
}

void VsockDevice::deliverLocked() {
  int budget = kDeliveryBudget;
  bool progress = true;
  while (receiveQueue_ && !receiveStarved_ && progress && budget > 0) {
    progress = false;
    while (!control_.empty() && budget > 0) {
      auto chain = takeReceiveChain();
      if (!chain) break;
      ControlPacket packet = control_.front();
      control_.pop_front();
      if (!deliverControl(*chain, packet)) return;
      --budget;
      progress = true;
    }
    if (!control_.empty() || !receiveQueue_ || receiveStarved_) break;
    std::vector<int> readable;
    for (auto& [fd, connection] : connections_) {
      if (connection.state == Connection::State::kEstablished && connection.hostReadable &&
          !connection.hostEnded && !connection.guestReceiveDone && connection.guestCredit() > 0) {
        readable.push_back(fd);
      }
    }
    // One packet per connection per round, so that they share the guest's buffers.
    for (int fd : readable) {
      auto found = connections_.find(fd);
      if (found == connections_.end()) continue;
      auto chain = takeReceiveChain();
      if (!chain) break;
      if (deliverData(found->second, *chain)) {
        progress = true;
        --budget;
      } else if (!receiveQueue_) {
        return;
      } else if (!control_.empty()) {
        progress = true;  // a shutdown or reset to deliver
      }
    }
  }
  for (auto& [fd, connection] : connections_) {
    updateInterest(connection);
  }
  if (receiveUsed_ && receiveQueue_) {
    receiveUsed_ = false;
    auto interrupt = receiveQueue_->needsInterrupt();
    if (!interrupt) {
      stopLocked(interrupt.error().message());
      return;
    }
    if (*interrupt && interrupt_) interrupt_();
  }
}

// --- Connections -----------------------------------------------------------------------------

VsockDevice::Connection* VsockDevice::find(std::uint32_t hostPort, std::uint32_t guestPort) {
  auto found = byPorts_.find({hostPort, guestPort});
  if (found == byPorts_.end()) return nullptr;
  return &connections_.at(found->second);
}

VsockDevice::Connection& VsockDevice::add(UniqueFd stream) {
  int fd = stream.get();
  Connection& connection = connections_[fd];
  connection.stream = std::move(stream);
  ++counters_.connections;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) == 0) {
    connection.interest = EPOLLIN;
  }
  return connection;
}

void VsockDevice::queueControl(Connection& connection, VsockOp op, std::uint32_t flags) {
  if (op == VsockOp::kCreditUpdate) {
    connection.creditUpdateQueued = true;
  }
  control_.push_back({connection.hostPort, connection.guestPort, op, flags});
}

void VsockDevice::refuse(const VsockHeader& header) {
  control_.push_back({header.dstPort, header.srcPort, VsockOp::kReset, 0});
}

void VsockDevice::advertiseCreditIfDue(Connection& connection) {
  // A quarter of the buffer forwarded since the guest last heard: it may be waiting for room.
  std::uint32_t unadvertised = connection.forwarded - connection.advertisedForwarded;
  if (unadvertised >= kConnectionBuffer / 4 && !connection.creditUpdateQueued) {
    queueControl(connection, VsockOp::kCreditUpdate);
  }
}

void VsockDevice::resetConnection(Connection& connection) {
  ++counters_.resets;
  if (connection.state != Connection::State::kHandshake) {
    queueControl(connection, VsockOp::kReset);
  }
  closeConnection(connection);
}

void VsockDevice::expirePending() {
  auto now = std::chrono::steady_clock::now();
  std::vector<int> expired;
  for (auto& [fd, connection] : connections_) {
    if (connection.state != Connection::State::kEstablished &&
        now - connection.pendingSince >= pendingTimeout_) {
      expired.push_back(fd);
    }
  }
  for (int fd : expired) {
    Connection& connection = connections_.at(fd);
    spdlog::debug("virtio-vsock: {} on {} timed out",
                  connection.state == Connection::State::kHandshake
                      ? "a client that sent no CONNECT line"
                      : "a connection the guest did not answer",
                  socketPath_);
    resetConnection(connection);
  }
}

void VsockDevice::armPendingTimer() {
  std::optional<std::chrono::steady_clock::time_point> due;
  for (const auto& [fd, connection] : connections_) {
    if (connection.state != Connection::State::kEstablished) {
      auto deadline = connection.pendingSince + pendingTimeout_;
      if (!due || deadline < *due) due = deadline;
    }
  }
  itimerspec setting{};
  if (due) {
    auto left = std::max<std::chrono::nanoseconds>(*due - std::chrono::steady_clock::now(),
                                                   std::chrono::milliseconds(1));
    setting.it_value.tv_sec = static_cast<time_t>(left.count() / 1'000'000'000);
    setting.it_value.tv_nsec = static_cast<long>(left.count() % 1'000'000'000);
  }
  ::timerfd_settime(timer_.get(), 0, &setting, nullptr);
}

void VsockDevice::closeConnection(Connection& connection) {
  byPorts_.erase({connection.hostPort, connection.guestPort});
  // Closing the fd takes it out of epoll.
  connections_.erase(connection.stream.get());
}

void VsockDevice::updateInterest(Connection& connection) {
  if (connection.hostHungUp) return;
  std::uint32_t wanted = 0;
  switch (connection.state) {
    case Connection::State::kHandshake:
      wanted = EPOLLIN;
      break;
    case Connection::State::kConnecting:
      break;
    case Connection::State::kEstablished:
      if (!connection.hostReadable && !connection.hostEnded && !connection.guestReceiveDone &&
          connection.guestCredit() > 0 && !receiveStarved_) {
        wanted |= EPOLLIN;
      }
      if (!connection.toHost.empty()) wanted |= EPOLLOUT;
      break;
  }
  if (wanted == connection.interest) return;
  epoll_event event{};
  event.events = wanted;
  event.data.fd = connection.stream.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, connection.stream.get(), &event) == 0) {
    connection.interest = wanted;
  }
}

}  // namespace tandem::vmm::virtio

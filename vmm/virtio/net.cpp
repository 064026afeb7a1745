#include "vmm/virtio/net.h"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/log.h"
#include "vmm/virtio/chain_bytes.h"

namespace tandem::vmm::virtio {
namespace {

constexpr std::uint16_t kLinkUp = 1;
// readv and writev take at most this many buffers (UIO_MAXIOV).
constexpr std::size_t kMaxIovecs = 1024;
// Frames moved per receive() call, so that a flood on the port does not keep the main loop from
// the guest's other devices; the rest wait for the next round, the port still readable.
constexpr int kReceiveBudget = 256;

}  // namespace

NetDevice::NetDevice(std::unique_ptr<FramePort> port, MacAddress mac, std::function<void()> wake)
    : port_(std::move(port)), mac_(mac), wake_(std::move(wake)) {}

std::uint64_t NetDevice::features() const {
  return kNetFeatureChecksum | kNetFeatureGuestChecksum | kNetFeatureMac | kNetFeatureGuestTso4 |
         kNetFeatureGuestTso6 | kNetFeatureHostTso4 | kNetFeatureHostTso6 |
         kNetFeatureMergeableBuffers | kNetFeatureStatus;
}

void NetDevice::readConfig(std::uint64_t offset, std::span<std::uint8_t> data) const {
  // struct virtio_net_config: mac[6], then status; the rest reads as zero.
  std::uint8_t config[8] = {};
  std::memcpy(config, mac_.data(), mac_.size());
  std::memcpy(config + 6, &kLinkUp, sizeof kLinkUp);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = offset + i < sizeof config ? config[offset + i] : 0;
  }
}

Status NetDevice::activate(std::vector<Virtqueue> queues, std::uint64_t features,
                           UsedBufferInterrupt interrupt) {
  if (queues.size() != 2) {
    return Error("virtio-net has a receive and a transmit queue, not " +
                     std::to_string(queues.size()) + " queues",
                 EINVAL);
  }
  bool tso4 = features & kNetFeatureGuestTso4;
  bool tso6 = features & kNetFeatureGuestTso6;
  TANDEM_TRY(port_->acceptOffloads(features & kNetFeatureGuestChecksum, tso4, tso6));
  std::lock_guard lock(mutex_);
  receiveQueue_.emplace(std::move(queues[kReceiveQueue]));
  transmitQueue_.emplace(std::move(queues[kTransmitQueue]));
  mergeable_ = features & kNetFeatureMergeableBuffers;
  largestFrame_ = tso4 || tso6 ? kNetLargestOffloadedFrame : kNetLargestPlainFrame;
  interrupt_ = std::move(interrupt);
  receiveFd_ = port_->fd();
  return okStatus();
}

void NetDevice::notify(std::uint16_t index) {
  std::lock_guard lock(mutex_);
  if (index == kReceiveQueue && receiveQueue_) {
    // New receive buffers: poll the port again.
    if (receiveFd_.exchange(port_->fd()) < 0 && wake_) {
      wake_();
    }
  } else if (index == kTransmitQueue && transmitQueue_) {
    transmitLocked();
  }
}

void NetDevice::transmitLocked() {
  auto interrupt = transmitQueue_->serveAvailable(
      [this](const DescriptorChain& chain) -> std::uint32_t {
        std::uint64_t bytes = chain.readableBytes();
        if (bytes < kNetHeaderBytes || chain.readable.size() > kMaxIovecs) {
          spdlog::debug(
              "virtio-net {}: a frame of {} bytes in {} buffers is not one the port "
              "can take",
              port_->describe(), bytes, chain.readable.size());
          ++counters_.sendErrors;
          return 0;
        }
        std::vector<iovec> iov;
        iov.reserve(chain.readable.size());
        for (const ChainBuffer& buffer : chain.readable) iov.push_back(iovecOf(buffer.bytes));
        ssize_t sent;
        do {
          sent = ::writev(port_->fd(), iov.data(), static_cast<int>(iov.size()));
        } while (sent < 0 && errno == EINTR);
        if (sent < 0) {
          spdlog::debug("virtio-net {}: a frame of {} bytes was refused: {}", port_->describe(),
                        bytes, std::strerror(errno));
          ++counters_.sendErrors;
          return 0;
        }
        ++counters_.sentFrames;
        counters_.sentBytes += bytes - kNetHeaderBytes;
        return 0;
      },
      [this](const std::string& problem) {
        spdlog::debug("virtio-net {}: {}", port_->describe(), problem);
        ++counters_.sendErrors;
      });
  if (!interrupt) {
    stopLocked(interrupt.error().message());
    return;
  }
  if (*interrupt) {
    ++counters_.interrupts;
    interrupt_();
  }
}

int NetDevice::receiveFd() const {
  return receiveFd_.load();
}

void NetDevice::receive() {
  std::lock_guard lock(mutex_);
  for (int frames = 0; frames < kReceiveBudget && receiveOneLocked(); ++frames) {
  }
  if (!receiveQueue_) {
    return;
  }
  auto interrupt = receiveQueue_->needsInterrupt();
  if (!interrupt) {
    stopLocked(interrupt.error().message());
    return;
  }
  if (*interrupt) {
    ++counters_.interrupts;
    interrupt_();
  }
}

bool NetDevice::receiveOneLocked() {
  if (!receiveQueue_) {
    return false;
  }
  Virtqueue& queue = *receiveQueue_;
  struct Taken {
    std::uint16_t head;
    std::uint64_t bytes;
  };
  std::vector<Taken> taken;
  std::vector<iovec> iov;
  std::uint64_t room = 0;
  bool cutShort = false;
  // Without mergeable buffers a frame takes exactly one chain, whatever its size.
  std::size_t maxChains = mergeable_ ? queue.size() : 1;
  while (taken.size() < maxChains && room < largestFrame_) {
    auto popped = queue.pop();
    if (!popped) {
      stopLocked(popped.error().message());
      return false;
    }
    if (popped->kind == PoppedChain::Kind::kEmpty) {
      break;
    }
    const DescriptorChain& chain = popped->chain;
    std::string problem = popped->problem;
    if (popped->kind == PoppedChain::Kind::kChain) {
      if (!chain.readable.empty()) {
        problem = "a receive chain with device-readable buffers";
      } else if (taken.empty() && chain.writableBytes() < kNetHeaderBytes) {
        problem = "a receive chain too small for the virtio-net header";
      } else if (iov.size() + chain.writable.size() > kMaxIovecs) {
        queue.rewind(1);
        cutShort = true;
        break;
      }
    }
    if (!problem.empty()) {
      spdlog::debug("virtio-net {}: {}", port_->describe(), problem);
      if (!taken.empty()) {
        // Chains taken before it go back to the queue, so this one must too; the frame gets
        // the room taken so far.
        queue.rewind(1);
        cutShort = true;
        break;
      }
      if (Status returned = queue.pushUsed(chain.head, 0); !returned) {
        stopLocked(returned.error().message());
        return false;
      }
      continue;
    }
    for (const ChainBuffer& buffer : chain.writable) iov.push_back(iovecOf(buffer.bytes));
    room += chain.writableBytes();
    taken.push_back({chain.head, chain.writableBytes()});
  }
  auto giveBack = [&] { queue.rewind(static_cast<std::uint16_t>(taken.size())); };
  if (taken.empty() || (mergeable_ && room < largestFrame_ && !cutShort)) {
    giveBack();
    auto more = queue.requestNotificationForMore();
    if (!more) {
      stopLocked(more.error().message());
      return false;
    }
    if (*more) {
      return true;
    }
    // The port waits until the driver adds buffers (notify on the receive queue).
    receiveFd_ = -1;
    return false;
  }
  ssize_t got;
  do {
    got = ::readv(port_->fd(), iov.data(), static_cast<int>(iov.size()));
  } while (got < 0 && errno == EINTR);
  if (got <= 0) {
    giveBack();
    if (got == 0 || errno != EAGAIN) {
      // The port itself failed or closed (its interface deleted under it): stop polling it, or
      // the main loop would spin on it.
      spdlog::warn("virtio-net {}: cannot read a frame: {}; the device receives nothing more",
                   port_->describe(), got == 0 ? "the port closed" : std::strerror(errno));
      receiveFd_ = -1;
    }
    return false;
  }
  if (static_cast<std::size_t>(got) < kNetHeaderBytes) {
    giveBack();
    return true;
  }
  std::vector<Virtqueue::UsedChain> used;
  auto left = static_cast<std::uint64_t>(got);
  for (const Taken& chain : taken) {
    auto fill = static_cast<std::uint32_t>(std::min(chain.bytes, left));
    used.push_back({chain.head, fill});
    left -= fill;
    if (left == 0) break;
  }
  // Written before the chains are published: the driver reads it as soon as it sees the first.
  auto buffers = static_cast<std::uint16_t>(used.size());
  std::uint8_t count[2];
  std::memcpy(count, &buffers, sizeof count);
  // The first chain's buffers lead the iovecs, and they hold at least the header.
  writeAcross(iov, kNetNumBuffersOffset, count);
  if (Status pushed = queue.pushUsed(used); !pushed) {
    stopLocked(pushed.error().message());
    return false;
  }
  queue.rewind(static_cast<std::uint16_t>(taken.size() - used.size()));
  ++counters_.receivedFrames;
  counters_.receivedBytes += static_cast<std::uint64_t>(got) - kNetHeaderBytes;
  return true;
}

void NetDevice::stopLocked(const std::string& problem) {
  spdlog::warn("virtio-net {}: {}; the device stops until the driver resets it", port_->describe(),
               problem);
  receiveQueue_.reset();
  transmitQueue_.reset();
  receiveFd_ = -1;
}

void NetDevice::reset() {
  std::lock_guard lock(mutex_);
  receiveQueue_.reset();
  transmitQueue_.reset();
  receiveFd_ = -1;
  interrupt_ = nullptr;
  if (Status cleared = port_->acceptOffloads(false, false, false); !cleared) {
    spdlog::debug("virtio-net {}: {}", port_->describe(), cleared.error().describe());
  }
}

NetCounters NetDevice::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

}  // namespace tandem::vmm::virtio

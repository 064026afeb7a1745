#include "vmm/virtio/entropy.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace tandem::vmm::virtio {
namespace {

// Fills `bytes` from getrandom(); how many bytes it got (fewer only if the host has a problem).
std::size_t fillRandom(std::span<std::uint8_t> bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t got = ::getrandom(bytes.data() + done, bytes.size() - done, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      spdlog::warn("virtio-rng: getrandom failed: {}", std::strerror(errno));
      break;
    }
    done += static_cast<std::size_t>(got);
  }
  return done;
}

}  // namespace

void EntropyDevice::readConfig(std::uint64_t, std::span<std::uint8_t> data) const {
  std::fill(data.begin(), data.end(), 0);
}

Status EntropyDevice::activate(std::vector<Virtqueue> queues, std::uint64_t,
                               UsedBufferInterrupt interrupt) {
  if (queues.size() != 1) {
    return Error("virtio-rng has one queue, not " + std::to_string(queues.size()), EINVAL);
  }
  std::lock_guard lock(mutex_);
  queue_.emplace(std::move(queues.front()));
  interrupt_ = std::move(interrupt);
  return okStatus();
}

void EntropyDevice::notify(std::uint16_t index) {
  std::lock_guard lock(mutex_);
  if (index != 0 || !queue_) {
    return;
  }
  auto interrupt = queue_->serveAvailable(
      [](const DescriptorChain& chain) {
        std::uint32_t written = 0;
        for (const ChainBuffer& buffer : chain.writable) {
          written += static_cast<std::uint32_t>(fillRandom(buffer.bytes));
        }
        return written;
      },
      [](const std::string& problem) { spdlog::debug("virtio-rng: {}", problem); });
  if (!interrupt) {
    // The ring is corrupt: serve nothing more until the driver resets the device.
    spdlog::warn("virtio-rng: {}; the queue stops until the driver resets it",
                 interrupt.error().message());
    queue_.reset();
    return;
  }
  if (*interrupt) {
    interrupt_();
  }
}

void EntropyDevice::reset() {
  std::lock_guard lock(mutex_);
  queue_.reset();
  interrupt_ = nullptr;
}

}  // namespace tandem::vmm::virtio

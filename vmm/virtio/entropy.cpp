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
  // Drained only once a pop after asking for the next notification finds nothing: a chain
  // made available in between would otherwise wait for a notification that never comes.
  bool armed = false;
  for (;;) {
    auto popped = queue_->pop();
    if (!popped) {
      // The ring is corrupt: serve nothing more until the driver resets the device.
      spdlog::warn("virtio-rng: {}; the queue stops until the driver resets it",
                   popped.error().message());
      queue_.reset();
      return;
    }
    if (popped->kind == PoppedChain::Kind::kEmpty) {
      if (armed) {
        break;
      }
      (void)queue_->requestNotification();
      armed = true;
      continue;
    }
    armed = false;
    std::uint32_t written = 0;
    if (popped->kind == PoppedChain::Kind::kMalformed) {
      spdlog::debug("virtio-rng: {}", popped->problem);
    } else {
      for (const ChainBuffer& buffer : popped->chain.writable) {
        written += static_cast<std::uint32_t>(fillRandom(buffer.bytes));
      }
    }
    if (auto used = queue_->pushUsed(popped->chain.head, written); !used) {
      spdlog::warn("virtio-rng: {}", used.error().message());
      queue_.reset();
      return;
    }
  }
  if (auto wanted = queue_->needsInterrupt(); wanted && *wanted) {
    interrupt_();
  }
}

void EntropyDevice::reset() {
  std::lock_guard lock(mutex_);
  queue_.reset();
  interrupt_ = nullptr;
}

}  // namespace tandem::vmm::virtio

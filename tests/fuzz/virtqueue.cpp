// A split virtqueue driven by a hostile driver: the layout as written to the transport's
// registers, the rings and descriptors as bytes in guest RAM (rewritten between the device's
// steps, as a guest may do at any time), and the device popping, serving, returning and
// rewinding chains. Every buffer of a chain must lie in guest RAM, readable ones before
// writable ones, and no chain may be longer than the queue allows.
#include <vector>

#include "tests/fuzz/guest_ram.h"
#include "vmm/virtio/virtqueue.h"

using namespace tandem::vmm::virtio;

namespace {

void checkChain(const DescriptorChain& chain, std::uint16_t queueSize) {
  std::size_t buffers = chain.readable.size() + chain.writable.size();
  // An indirect table may hold more entries than the ring, but never more than a queue's worth.
  fuzzCheck(buffers <= kMaxQueueSize, "a chain has at most a queue's worth of buffers");
  fuzzCheck(chain.head < queueSize, "a chain's head is a ring index");
  for (const auto& buffer : chain.readable) {
    checkInsideGuestRam(buffer.bytes);
  }
  for (const auto& buffer : chain.writable) {
    checkInsideGuestRam(buffer.bytes);
  }
}

std::uint32_t serve(const DescriptorChain& chain, std::uint16_t queueSize) {
  checkChain(chain, queueSize);
  std::uint32_t written = 0;
  for (const auto& buffer : chain.writable) {
    std::fill(buffer.bytes.begin(), buffer.bytes.end(), 0xa5);
    written += static_cast<std::uint32_t>(buffer.bytes.size());
  }
  return written;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput input(data, size);
  QueueLayout layout;
  std::uint8_t sizeChoice = input.take<std::uint8_t>();
  layout.size =
      sizeChoice < 240 ? std::uint16_t(1u << (sizeChoice % 9)) : input.take<std::uint16_t>();
  layout.descTable = fuzzGuestAddress(input);
  layout.availRing = fuzzGuestAddress(input);
  layout.usedRing = fuzzGuestAddress(input);
  bool eventIndex = input.take<std::uint8_t>() & 1;
  loadGuestRam(input.bytes(input.take<std::uint16_t>()));

  const auto& memory = fuzzGuestRam();
  auto created = Virtqueue::create(memory, layout, eventIndex);
  if (!created) {
    return 0;
  }
  Virtqueue queue = std::move(created).value();
  std::vector<std::uint16_t> popped;
  for (int step = 0; step < 256 && !input.empty(); ++step) {
    switch (input.take<std::uint8_t>() % 7) {
      case 0: {  // the guest rewrites some of its RAM
        std::uint64_t address = input.take<std::uint16_t>() % kFuzzGuestRam;
        auto bytes = input.bytes(input.take<std::uint8_t>());
        (void)memory.write(address, bytes);
        break;
      }
      case 1: {
        auto next = queue.pop();
        if (!next) {
          return 0;
        }
        if (next->kind != PoppedChain::Kind::kEmpty) {
          fuzzCheck(next->chain.head < layout.size, "a popped head is a ring index");
          popped.push_back(next->chain.head);
        }
        if (next->kind == PoppedChain::Kind::kChain) {
          checkChain(next->chain, layout.size);
        }
        break;
      }
      case 2:
        if (!popped.empty()) {
          (void)queue.pushUsed(popped.back(), input.take<std::uint32_t>());
          popped.pop_back();
        }
        break;
      case 3: {
        auto served = queue.serveAvailable(
            [&](const DescriptorChain& chain) { return serve(chain, layout.size); },
            [](const std::string& problem) { fuzzCheck(!problem.empty(), "a refusal says why"); });
        if (!served) {
          return 0;
        }
        break;
      }
      case 4:
        (void)queue.needsInterrupt();
        (void)queue.requestNotification();
        break;
      case 5:
        (void)queue.requestNotificationForMore();
        break;
      case 6:
        if (!popped.empty()) {
          std::uint16_t count = static_cast<std::uint16_t>(1 + input.below(popped.size()));
          queue.rewind(count);
          popped.resize(popped.size() - count);
        }
        break;
    }
  }
  return 0;
}

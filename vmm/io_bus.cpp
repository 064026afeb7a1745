#include "vmm/io_bus.h"

namespace tandem::vmm {

Status IoBus::add(std::uint64_t base, std::uint64_t length, std::shared_ptr<IoHandler> handler,
                  std::string name) {
  if (length == 0) {
    return Error("device " + name + " registered with an empty address range", EINVAL);
  }
  auto next = ranges_.lower_bound(base);
  if (next != ranges_.end() && next->first < base + length) {
    return Error("device " + name + " overlaps device " + next->second.name, EEXIST);
  }
  if (next != ranges_.begin()) {
    auto previous = std::prev(next);
    if (previous->first + previous->second.length > base) {
      return Error("device " + name + " overlaps device " + previous->second.name, EEXIST);
    }
  }
  ranges_.emplace(base, Range{length, std::move(handler), std::move(name)});
  return okStatus();
}

const std::pair<const std::uint64_t, IoBus::Range>* IoBus::find(std::uint64_t address) const {
  auto next = ranges_.upper_bound(address);
  if (next == ranges_.begin()) {
    return nullptr;
  }
  const auto& candidate = *std::prev(next);
  if (address - candidate.first >= candidate.second.length) {
    return nullptr;
  }
  return &candidate;
}

bool IoBus::read(std::uint64_t address, std::span<std::uint8_t> data) const {
  const auto* range = find(address);
  if (range == nullptr) {
    return false;
  }
  range->second.handler->read(address - range->first, data);
  return true;
}

bool IoBus::write(std::uint64_t address, std::span<const std::uint8_t> data) const {
  const auto* range = find(address);
  if (range == nullptr) {
    return false;
  }
  range->second.handler->write(address - range->first, data);
  return true;
}

}  // namespace tandem::vmm

#include "vmm/devices/status_port.h"

#include <algorithm>
#include <cstring>

namespace tandem::vmm {

void StatusPort::read(std::uint64_t, std::span<std::uint8_t> data) {
  std::fill(data.begin(), data.end(), 0xff);
}

void StatusPort::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (offset != 0 || data.size() != sizeof(std::uint32_t)) {
    return;
  }
  std::uint32_t value;
  std::memcpy(&value, data.data(), sizeof(value));
  report_(guest::statusKind(value), guest::statusPayload(value));
}

}  // namespace tandem::vmm

#include "vmm/devices/i8042.h"

#include <algorithm>

namespace tandem::vmm {
namespace {

constexpr std::uint64_t kCommandOffset = kI8042CommandPort - kI8042DataPort;
constexpr std::uint8_t kPulseResetLine = 0xfe;

}  // namespace

void I8042::read(std::uint64_t, std::span<std::uint8_t> data) {
  // Status 0: both buffers empty, so the kernel's "wait for input buffer empty" loop ends at
  // once, and reads of the data port find nothing.
  std::fill(data.begin(), data.end(), 0);
}

void I8042::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (offset == kCommandOffset && !data.empty() && data[0] == kPulseResetLine) {
    resetRequested_();
  }
}

}  // namespace tandem::vmm

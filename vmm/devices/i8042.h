// Just enough of the i8042 keyboard controller for a guest to reset itself: with reboot=k,
// Linux pulses the CPU reset line by writing command 0xfe to port 0x64, and that is how a
// tandem guest says it has finished (Firecracker takes the same signal).
#pragma once

#include <cstdint>
#include <functional>

#include "vmm/io_bus.h"

namespace tandem::vmm {

inline constexpr std::uint64_t kI8042DataPort = 0x60;
inline constexpr std::uint64_t kI8042CommandPort = 0x64;

class I8042 : public IoHandler {
 public:
  explicit I8042(std::function<void()> resetRequested)
      : resetRequested_(std::move(resetRequested)) {}

  // Registered over 0x60..0x64; `offset` 0 is the data port, 4 the status/command port.
  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

 private:
  std::function<void()> resetRequested_;
};

}  // namespace tandem::vmm

// How the guest tells the VMM where it is and how the workload ended: single 32-bit writes to
// guest::kStatusPort (vmm/guest_protocol.h), each one VM exit the VMM timestamps.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "vmm/guest_protocol.h"

namespace tandem::guest_init {

class StatusPort {
 public:
  // Asks the kernel for the port (ioperm; PID 1 has CAP_SYS_RAWIO).
  static Result<StatusPort> open();
  // For --test-harness: each word as a line of text on `fd` instead.
  static StatusPort textTo(int fd) { return StatusPort(fd); }

  void report(guest::StatusKind kind, std::uint8_t payload) const;
  void report(std::uint32_t word) const;

 private:
  explicit StatusPort(int textFd) : textFd_(textFd) {}
  int textFd_;  // -1: the I/O port
};

}  // namespace tandem::guest_init

// The paravirtual port tandem's guest init writes its milestones and the workload's exit status
// to (guest_protocol.h): one 32-bit write, one exit, decoded here.
#pragma once

#include <cstdint>
#include <functional>

#include "vmm/guest_protocol.h"
#include "vmm/io_bus.h"

namespace tandem::vmm {

class StatusPort : public IoHandler {
 public:
  explicit StatusPort(std::function<void(guest::StatusKind, std::uint8_t)> report)
      : report_(std::move(report)) {}

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  // Anything but one aligned 32-bit write is not from tandem's init and is ignored.
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

 private:
  std::function<void(guest::StatusKind, std::uint8_t)> report_;
};

}  // namespace tandem::vmm

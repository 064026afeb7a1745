// Serving a vCPU's port I/O and MMIO exits on the device buses, as the run loop does: each
// element of a string instruction (`rep outsb`) on its own, and an access no device claims
// ignored, a read of it floating high (all ones) as on an ISA bus. Apart from the loop, so that
// the fuzz target drives exactly this with hostile exits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "vmm/io_bus.h"
#include "vmm/vcpu_exit.h"

namespace tandem::vmm {

struct DeviceBuses {
  IoBus ports;
  IoBus mmio;
};

// Told of each access no device claimed: "port" or "MMIO", its address, direction and size.
using UnclaimedAccess =
    std::function<void(const char* kind, std::uint64_t address, bool write, std::size_t size)>;

void servePortIo(const IoBus& ports, const PortIoExit& io, const UnclaimedAccess& unclaimed);
void serveMmio(const IoBus& mmio, const MmioExit& exit, const UnclaimedAccess& unclaimed);

}  // namespace tandem::vmm

#include "vmm/exit_dispatch.h"

#include <algorithm>

namespace tandem::vmm {

void servePortIo(const IoBus& ports, const PortIoExit& io, const UnclaimedAccess& unclaimed) {
  for (std::uint32_t i = 0; i < io.count; ++i) {
    auto element = io.data.subspan(std::size_t{i} * io.size, io.size);
    bool claimed = io.write ? ports.write(io.port, element) : ports.read(io.port, element);
    if (!claimed) {
      if (!io.write) {
        std::fill(element.begin(), element.end(), 0xff);
      }
      unclaimed("port", io.port, io.write, io.size);
    }
  }
}

void serveMmio(const IoBus& mmio, const MmioExit& exit, const UnclaimedAccess& unclaimed) {
  bool claimed =
      exit.write ? mmio.write(exit.address, exit.data) : mmio.read(exit.address, exit.data);
  if (!claimed) {
    if (!exit.write) {
      std::fill(exit.data.begin(), exit.data.end(), 0xff);
    }
    unclaimed("MMIO", exit.address, exit.write, exit.data.size());
  }
}

}  // namespace tandem::vmm

#include "vmm/vcpu_exit.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace tandem::vmm {

std::string exitReasonName(std::uint32_t reason) {
  switch (reason) {
    case KVM_EXIT_IO:
      return "io";
    case KVM_EXIT_MMIO:
      return "mmio";
    case KVM_EXIT_HLT:
      return "hlt";
    case KVM_EXIT_SHUTDOWN:
      return "shutdown";
    case KVM_EXIT_SYSTEM_EVENT:
      return "system_event";
    case KVM_EXIT_INTR:
      return "intr";
    case KVM_EXIT_FAIL_ENTRY:
      return "fail_entry";
    case KVM_EXIT_INTERNAL_ERROR:
      return "internal_error";
    case KVM_EXIT_UNKNOWN:
      return "unknown";
    default:
      return "reason_" + std::to_string(reason);
  }
}

VcpuExit decodeExit(kvm_run& run, std::size_t runSize) {
  switch (run.exit_reason) {
    case KVM_EXIT_IO: {
      // KVM reports 1, 2 or 4 bytes per element; a size of 0 would make any count, up to 2^32
      // elements, fit in the page and keep the vCPU thread busy for minutes.
      if (run.io.size != 1 && run.io.size != 2 && run.io.size != 4) {
        return FailureExit{"KVM reported port I/O of " + std::to_string(run.io.size) +
                           "-byte elements"};
      }
      std::uint64_t bytes = std::uint64_t{run.io.size} * run.io.count;
      if (run.io.data_offset > runSize || bytes > runSize - run.io.data_offset) {
        return FailureExit{"KVM reported port I/O data outside the kvm_run area"};
      }
      auto* base = reinterpret_cast<std::uint8_t*>(&run);
      return PortIoExit{run.io.port,
                        run.io.direction == KVM_EXIT_IO_OUT,
                        {base + run.io.data_offset, static_cast<std::size_t>(bytes)},
                        run.io.size,
                        run.io.count};
    }
    case KVM_EXIT_MMIO: {
      std::uint32_t length = std::min<std::uint32_t>(run.mmio.len, sizeof(run.mmio.data));
      return MmioExit{run.mmio.phys_addr, run.mmio.is_write != 0, {run.mmio.data, length}};
    }
    case KVM_EXIT_SHUTDOWN:
      return StopExit{"the guest shut down (a triple fault)"};
    case KVM_EXIT_SYSTEM_EVENT:
      switch (run.system_event.type) {
        case KVM_SYSTEM_EVENT_RESET:
          return StopExit{"the guest reset"};
        case KVM_SYSTEM_EVENT_SHUTDOWN:
          return StopExit{"the guest powered off"};
        case KVM_SYSTEM_EVENT_CRASH:
          return StopExit{"the guest crashed"};
        default:
          return StopExit{"the guest raised system event " + std::to_string(run.system_event.type)};
      }
    case KVM_EXIT_HLT:
      // Only without an in-kernel irqchip; with one, a halted vCPU waits inside KVM.
      return StopExit{"the guest halted"};
    case KVM_EXIT_FAIL_ENTRY:
      return FailureExit{"KVM could not enter the guest (hardware entry failure reason " +
                         std::to_string(run.fail_entry.hardware_entry_failure_reason) + ")"};
    case KVM_EXIT_INTERNAL_ERROR: {
      // KVM's own words on it (for an emulation failure: the instruction's bytes, the exit
      // reason and the guest address), for a bug report.
      std::string detail;
      std::uint32_t words =
          std::min<std::uint32_t>(run.internal.ndata, std::size(run.internal.data));
      for (std::uint32_t i = 0; i < words; ++i) {
        detail += fmt::format(" {:#x}", run.internal.data[i]);
      }
      return FailureExit{"KVM internal error (suberror " + std::to_string(run.internal.suberror) +
                         (detail.empty() ? "" : "; data" + detail) + ")"};
    }
    case KVM_EXIT_INTR:
      return NoActionExit{};
    default:
      return FailureExit{"unexpected KVM exit: " + exitReasonName(run.exit_reason)};
  }
}

}  // namespace tandem::vmm

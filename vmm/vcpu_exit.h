// A KVM_RUN exit, decoded from the shared kvm_run page into a value, so the run loop only
// dispatches and the decoding is tested on a plain buffer.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <string>
#include <variant>

namespace tandem::vmm {

struct PortIoExit {
  std::uint16_t port = 0;
  bool write = false;
  // One element's bytes per repetition (`rep outsb` and friends give count > 1), in kvm_run.
  std::span<std::uint8_t> data;
  std::uint32_t size = 0;
  std::uint32_t count = 0;
};

struct MmioExit {
  std::uint64_t address = 0;
  bool write = false;
  std::span<std::uint8_t> data;
};

// The guest asked to stop: a triple fault (shutdown) or a KVM system event.
struct StopExit {
  std::string reason;
};

// KVM could not run the guest; `reason` says what KVM reported.
struct FailureExit {
  std::string reason;
};

// Nothing for the VMM to do (a signal interrupted KVM_RUN, or an exit KVM already handled).
struct NoActionExit {};

using VcpuExit = std::variant<PortIoExit, MmioExit, StopExit, FailureExit, NoActionExit>;

// `run` must be the vCPU's mapping of size `runSize`; data offsets are checked against it.
VcpuExit decodeExit(kvm_run& run, std::size_t runSize);

// KVM_EXIT_* as a name, for statistics ("io", "mmio", "shutdown", ...).
std::string exitReasonName(std::uint32_t reason);

}  // namespace tandem::vmm

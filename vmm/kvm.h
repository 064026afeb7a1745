// Thin owning wrappers over KVM's three kinds of fd: the system (/dev/kvm), a VM, and a vCPU.
// Each method is one ioctl with its failure described; everything above them (boot setup,
// devices, the exit loop's decisions) is plain code tested without KVM.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/mapped_region.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem::vmm {

// KVM_GET_API_VERSION has answered 12 since Linux 2.6.22; anything else is not the KVM API
// this monitor speaks.
inline constexpr int kKvmApiVersion = 12;

class VmFd;
class VcpuFd;

class Kvm {
 public:
  // Opens the device and checks its API version.
  static Result<Kvm> open(const std::string& path = "/dev/kvm");

  int apiVersion() const { return apiVersion_; }

  // KVM_CHECK_EXTENSION: 0 when absent, otherwise a capability-specific positive value.
  Result<int> checkExtension(int capability) const;

  // KVM_GET_VCPU_MMAP_SIZE: the size of each vCPU's shared kvm_run area.
  Result<int> vcpuMmapSize() const;

  // KVM_GET_SUPPORTED_CPUID: every leaf this host's KVM can expose, before per-vCPU filtering.
  Result<std::vector<kvm_cpuid_entry2>> supportedCpuid() const;

  Result<VmFd> createVm() const;

  int fd() const { return fd_.get(); }

 private:
  Kvm(UniqueFd fd, int apiVersion) : fd_(std::move(fd)), apiVersion_(apiVersion) {}
  UniqueFd fd_;
  int apiVersion_;
};

class VmFd {
 public:
  explicit VmFd(UniqueFd fd) : fd_(std::move(fd)) {}

  Status setTssAddress(std::uint64_t address) const;
  Status createIrqchip() const;
  // The i8254 PIT, with its speaker port left to KVM as a dummy so it never exits to us.
  Status createPit() const;
  Status setMemoryRegion(std::uint32_t slot, std::uint64_t guestAddress, std::uint64_t size,
                         void* hostAddress) const;
  // Routes writes to `eventFd` into interrupt line `gsi`, as an edge.
  Status assignIrqfd(int eventFd, unsigned gsi) const;
  // Turns a guest's 4-byte MMIO write of `value` to `address` into a signal on `eventFd`,
  // handled inside KVM: the vCPU goes on without an exit to the VMM.
  Status assignIoeventfd(int eventFd, std::uint64_t address, std::uint32_t value) const;
  Result<VcpuFd> createVcpu(unsigned index, std::size_t runSize) const;

  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
};

class VcpuFd {
 public:
  VcpuFd(UniqueFd fd, MappedRegion run) : fd_(std::move(fd)), run_(std::move(run)) {}

  kvm_run* run() const { return reinterpret_cast<kvm_run*>(run_.data()); }
  // KVM_RUN: an error of EINTR means a signal kicked the vCPU out, which is not a failure.
  Status enter() const;

  Status setCpuid(const std::vector<kvm_cpuid_entry2>& entries) const;
  Result<kvm_regs> regs() const;
  Status setRegs(const kvm_regs& regs) const;
  Result<kvm_sregs> sregs() const;
  Status setSregs(const kvm_sregs& sregs) const;
  Status setFpu(const kvm_fpu& fpu) const;
  Status setMsrs(const std::vector<kvm_msr_entry>& msrs) const;
  Result<kvm_lapic_state> lapic() const;
  Status setLapic(const kvm_lapic_state& lapic) const;
  // KVM_GET_TSC_KHZ: the guest TSC frequency, or an error where KVM cannot tell.
  Result<std::uint32_t> tscKhz() const;
  // KVM_GET_STATS_FD: binary statistics of this vCPU (exit counts by reason).
  Result<UniqueFd> statsFd() const;

  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  MappedRegion run_;
};

}  // namespace tandem::vmm

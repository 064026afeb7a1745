// The KVM system fd: the first of the thin owning wrappers (system, VM, vCPU) the monitor is
// built on. Each method is one ioctl; logic above it is tested without KVM.
#pragma once

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem::vmm {

// KVM_GET_API_VERSION has answered 12 since Linux 2.6.22; anything else is not the KVM API
// this monitor speaks.
inline constexpr int kKvmApiVersion = 12;

class Kvm {
 public:
  // Opens the device and checks its API version.
  static Result<Kvm> open(const std::string& path = "/dev/kvm");

  int apiVersion() const { return apiVersion_; }

  // KVM_CHECK_EXTENSION: 0 when absent, otherwise a capability-specific positive value.
  Result<int> checkExtension(int capability) const;

  // KVM_GET_VCPU_MMAP_SIZE: the size of each vCPU's shared kvm_run area.
  Result<int> vcpuMmapSize() const;

  int fd() const { return fd_.get(); }

 private:
  Kvm(UniqueFd fd, int apiVersion) : fd_(std::move(fd)), apiVersion_(apiVersion) {}
  UniqueFd fd_;
  int apiVersion_;
};

}  // namespace tandem::vmm

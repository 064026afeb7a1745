// Whether this machine's /dev/kvm can run tandem's guest: a KVM over hardware virtualization
// (Intel VT-x or AMD-V, nested or not). A /dev/kvm without it, such as kvm_pvm's, which runs
// guests through software and takes only guest kernels built for it, fails our stock guest
// kernel deep in its boot with a KVM internal error; this says so before anything starts.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace tandem::vmm {

// From CPUID: leaf 1's ECX (VMX is bit 5) and leaf 0x80000001's ECX (SVM is bit 2).
bool cpuOffersHardwareVirtualization(std::uint32_t leaf1Ecx, std::uint32_t leaf80000001Ecx);

// Ok when this CPU offers VT-x or AMD-V; otherwise why not, naming the KVM module that provides
// /dev/kvm when it is a known software one (read from `sysModules`, normally /sys/module).
Status checkHardwareVirtualization(const std::string& sysModules = "/sys/module");

}  // namespace tandem::vmm

#include "vmm/host_virtualization.h"

#include "common/file.h"

namespace tandem::vmm {

namespace {

constexpr std::uint32_t kVmxBit = 1u << 5;
constexpr std::uint32_t kSvmBit = 1u << 2;

// ECX of CPUID `leaf` (subleaf 0). Not <cpuid.h>: vmm/cpuid.h shadows it on this library's
// include path.
std::uint32_t cpuidEcx(std::uint32_t leaf) {
  std::uint32_t eax = leaf, ebx = 0, ecx = 0, edx = 0;
  asm volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
  return ecx;
}

std::uint32_t cpuidEax(std::uint32_t leaf) {
  std::uint32_t eax = leaf, ebx = 0, ecx = 0, edx = 0;
  asm volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
  return eax;
}

}  // namespace

bool cpuOffersHardwareVirtualization(std::uint32_t leaf1Ecx, std::uint32_t leaf80000001Ecx) {
  return (leaf1Ecx & kVmxBit) != 0 || (leaf80000001Ecx & kSvmBit) != 0;
}

Status checkHardwareVirtualization(const std::string& sysModules) {
  std::uint32_t extended = cpuidEax(0x80000000) >= 0x80000001 ? cpuidEcx(0x80000001) : 0;
  if (cpuOffersHardwareVirtualization(cpuidEcx(1), extended)) {
    return okStatus();
  }
  std::string provider = isDirectory(sysModules + "/kvm_pvm")
                             ? "kvm_pvm, a KVM that runs guests in software and boots only guest "
                               "kernels built for it"
                             : "a KVM without hardware virtualization";
  return Error(
      "microVMs need hardware virtualization (Intel VT-x or AMD-V), which this CPU does "
      "not offer: its /dev/kvm comes from " +
      provider);
}

}  // namespace tandem::vmm

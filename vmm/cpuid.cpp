#include "vmm/cpuid.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tandem::vmm {
namespace {

enum class Vendor { kIntel, kAmd, kOther };

// Leaf 0 spells the vendor in EBX, EDX, ECX order. Hygon's CPUs are AMD's Zen and Linux reads
// their topology from AMD's leaves (arch/x86/kernel/cpu/hygon.c).
Vendor vendorOf(const kvm_cpuid_entry2& leaf0) {
  char name[12];
  std::memcpy(name, &leaf0.ebx, 4);
  std::memcpy(name + 4, &leaf0.edx, 4);
  std::memcpy(name + 8, &leaf0.ecx, 4);
  const std::string_view vendor(name, sizeof name);
  if (vendor == "GenuineIntel") {
    return Vendor::kIntel;
  }
  if (vendor == "AuthenticAMD" || vendor == "HygonGenuine") {
    return Vendor::kAmd;
  }
  return Vendor::kOther;
}

void setBits(std::uint32_t& reg, unsigned low, unsigned width, std::uint32_t value) {
  const std::uint32_t mask = ((1u << width) - 1) << low;
  reg = (reg & ~mask) | ((value << low) & mask);
}

void setBit(std::uint32_t& reg, unsigned bit, bool on) {
  setBits(reg, bit, 1, on ? 1 : 0);
}

// Bits an APIC id needs to tell `count` things apart.
std::uint32_t idBits(unsigned count) {
  std::uint32_t bits = 0;
  while ((1u << bits) < count) {
    ++bits;
  }
  return bits;
}

// Intel SDM vol. 2A, CPUID leaf 1.
constexpr unsigned kLeaf1EcxTscDeadline = 24;
constexpr unsigned kLeaf1EcxHypervisor = 31;
constexpr unsigned kLeaf1EdxHtt = 28;
// Leaf 6 EAX[2]: the APIC timer keeps running in deep C-states.
constexpr std::uint32_t kLeaf6EaxArat = 1u << 2;
// Leaves 0xb and 0x1f, ECX[15:8].
constexpr std::uint32_t kTopologyLevelSmt = 1;
constexpr std::uint32_t kTopologyLevelCore = 2;

// EBX[23:16] counts "addressable IDs", a power of two on hardware; the count itself is enough, as
// Linux rounds it up (arch/x86/kernel/cpu/common.c: detect_ht).
void applyLeaf1(kvm_cpuid_entry2& entry, const VcpuCpuidConfig& vcpu) {
  setBits(entry.ebx, 24, 8, vcpu.index);
  setBits(entry.ebx, 16, 8, vcpu.count);
  setBit(entry.ecx, kLeaf1EcxTscDeadline, vcpu.tscDeadlineTimer);
  setBit(entry.ecx, kLeaf1EcxHypervisor, true);
  setBit(entry.edx, kLeaf1EdxHtt, vcpu.count > 1);
}

void applyLeaf6(kvm_cpuid_entry2& entry) {
  entry.eax &= kLeaf6EaxArat;
  entry.ebx = entry.ecx = entry.edx = 0;
}

// Leaves 4 (Intel) and 0x8000001d (AMD) share a layout for what matters here: EAX[4:0] is the
// cache type (0: no more caches), EAX[7:5] its level, EAX[25:14] how many logical processors
// share it, minus one.
void applyCacheSharing(kvm_cpuid_entry2& entry, const VcpuCpuidConfig& vcpu) {
  if ((entry.eax & 0x1f) == 0) {
    return;
  }
  const unsigned level = (entry.eax >> 5) & 0x7;
  setBits(entry.eax, 14, 12, level >= 3 ? vcpu.count - 1 : 0);
}

// Leaf 4 EAX[31:26]: cores in the package, minus one, in six bits.
void applyIntelCoresPerPackage(kvm_cpuid_entry2& entry, const VcpuCpuidConfig& vcpu) {
  if ((entry.eax & 0x1f) == 0) {
    return;
  }
  setBits(entry.eax, 26, 6, std::min(vcpu.count, 64u) - 1);
}

// Intel SDM vol. 2A, CPUID leaf 0xb: per level, the shift from x2APIC id to the next level's id
// (EAX[4:0]), the logical processors at this level (EBX[15:0]), the level's type and number
// (ECX[15:8], ECX[7:0]) and the x2APIC id (EDX).
kvm_cpuid_entry2 topologyLevel(std::uint32_t function, std::uint32_t subleaf, std::uint32_t type,
                               std::uint32_t shift, std::uint32_t processors,
                               const VcpuCpuidConfig& vcpu) {
  kvm_cpuid_entry2 entry{};
  entry.function = function;
  entry.index = subleaf;
  entry.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
  entry.eax = shift;
  entry.ebx = processors;
  entry.ecx = (type << 8) | subleaf;
  entry.edx = vcpu.index;
  return entry;
}

// Subleaves past the last one need no entry: KVM answers them as invalid levels carrying the
// x2APIC id (arch/x86/kvm/cpuid.c: kvm_cpuid).
void appendTopology(std::vector<kvm_cpuid_entry2>& out, std::uint32_t function,
                    const VcpuCpuidConfig& vcpu) {
  out.push_back(topologyLevel(function, 0, kTopologyLevelSmt, 0, 1, vcpu));
  out.push_back(
      topologyLevel(function, 1, kTopologyLevelCore, idBits(vcpu.count), vcpu.count, vcpu));
}

// AMD APM vol. 3, CPUID Fn8000_0008 ECX: NC (threads in the package, minus one) in [7:0] and
// ApicIdCoreIdSize in [15:12].
void applyAmdThreadCount(kvm_cpuid_entry2& entry, const VcpuCpuidConfig& vcpu) {
  setBits(entry.ecx, 0, 8, vcpu.count - 1);
  setBits(entry.ecx, 12, 4, idBits(vcpu.count));
}

// AMD APM vol. 3, CPUID Fn8000_001E: the extended APIC id in EAX; the core id in EBX[7:0] with
// threads per core minus one (0) in EBX[15:8]; node 0 of one node per package in ECX.
void applyAmdExtendedApicId(kvm_cpuid_entry2& entry, const VcpuCpuidConfig& vcpu) {
  entry.eax = vcpu.index;
  entry.ebx = vcpu.index & 0xff;
  entry.ecx = 0;
  entry.edx = 0;
}

const kvm_cpuid_entry2* findLeaf(const std::vector<kvm_cpuid_entry2>& entries,
                                 std::uint32_t function) {
  auto it = std::find_if(entries.begin(), entries.end(), [&](const kvm_cpuid_entry2& entry) {
    return entry.function == function && entry.index == 0;
  });
  return it == entries.end() ? nullptr : &*it;
}

}  // namespace

Result<std::vector<kvm_cpuid_entry2>> cpuidForVcpu(const std::vector<kvm_cpuid_entry2>& supported,
                                                   const VcpuCpuidConfig& vcpu) {
  if (vcpu.count == 0 || vcpu.count > kCpuidMaxVcpus) {
    return Error("CPUID describes 1 to " + std::to_string(kCpuidMaxVcpus) + " vCPUs, not " +
                 std::to_string(vcpu.count));
  }
  if (vcpu.index >= vcpu.count) {
    return Error("vCPU index " + std::to_string(vcpu.index) + " is not below the vCPU count " +
                 std::to_string(vcpu.count));
  }
  const kvm_cpuid_entry2* leaf0 = findLeaf(supported, 0);
  if (leaf0 == nullptr || findLeaf(supported, 1) == nullptr) {
    return Error("KVM's supported CPUID lacks leaf 0 or 1");
  }
  const Vendor vendor = vendorOf(*leaf0);

  std::vector<kvm_cpuid_entry2> out;
  out.reserve(supported.size() + 2);
  bool wroteLeafB = false;
  bool wroteLeaf1F = false;
  for (kvm_cpuid_entry2 entry : supported) {
    switch (entry.function) {
      case 0x1:
        applyLeaf1(entry, vcpu);
        break;
      case 0x4:
        if (vendor == Vendor::kIntel) {
          applyCacheSharing(entry, vcpu);
          applyIntelCoresPerPackage(entry, vcpu);
        }
        break;
      case 0x6:
        applyLeaf6(entry);
        break;
      case 0xb:
      case 0x1f: {
        bool& wrote = entry.function == 0xb ? wroteLeafB : wroteLeaf1F;
        if (!wrote) {
          appendTopology(out, entry.function, vcpu);
          wrote = true;
        }
        continue;
      }
      case 0x80000008:
        if (vendor == Vendor::kAmd) {
          applyAmdThreadCount(entry, vcpu);
        }
        break;
      case 0x8000001d:
        if (vendor == Vendor::kAmd) {
          applyCacheSharing(entry, vcpu);
        }
        break;
      case 0x8000001e:
        if (vendor == Vendor::kAmd) {
          applyAmdExtendedApicId(entry, vcpu);
        }
        break;
      default:
        break;
    }
    out.push_back(entry);
  }
  return out;
}

}  // namespace tandem::vmm

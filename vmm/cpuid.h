// One vCPU's CPUID, made from what KVM_GET_SUPPORTED_CPUID returns: a pure function, so every rule
// is tested on hand-built tables without KVM.
//
// The guest sees one socket with a core per vCPU, one thread each, and APIC id = x2APIC id = the
// vCPU's index (the MP table, vmm/mp_table.h, numbers them the same way). KVM's supported table
// carries the host's features already masked to what KVM can virtualise, but topology is left
// to the VMM (Documentation/virt/kvm/api.rst, "KVM_GET_SUPPORTED_CPUID issues"), so:
//
// - leaf 1: initial APIC id (EBX[31:24]), logical processors in the package (EBX[23:16]), HTT
//   (EDX[28]) when there is more than one; the hypervisor bit (ECX[31]); and TSC-deadline
//   (ECX[24]) when the caller says KVM emulates it.
// - leaves 0xb and 0x1f, where present: an SMT level of one thread and a core level of all vCPUs,
//   with the x2APIC id in EDX. KVM returns only subleaf 0, zeroed, and a topology is valid once
//   subleaf 1 exists.
// - Intel leaf 4 and AMD leaf 0x8000001d: L1 and L2 caches private to a core, L3 shared by all.
// - AMD leaves 0x80000008 (ECX: thread count and APIC id width) and 0x8000001e (extended APIC id,
//   core id, one node), which KVM returns zeroed.
// - leaf 6: only ARAT, the APIC timer running in deep C-states. KVM reports just that already;
//   turbo, HWP and energy-bias bits would describe host power management the guest cannot drive.
// - everything else passes through, among it the brand string and KVM's paravirt leaves
//   0x40000000 ("KVMKVMKVM\0\0\0") and 0x40000001 (kvmclock, PV EOI, PV unhalt, ...).
//
// No timing leaf 0x40000010 (TSC and LAPIC bus kHz). Linux 6.1 reads that leaf only behind the
// "VMwareVMware" signature (arch/x86/kernel/cpu/vmware.c, which takes the TSC rate from its
// backdoor port anyway); under KVM it gets the TSC rate from kvmclock (arch/x86/kernel/kvmclock.c:
// kvm_get_tsc_khz), and with TSC-deadline it never calibrates the LAPIC timer
// (arch/x86/kernel/apic/apic.c: calibrate_APIC_clock). So the monitor's TSC kHz is not an input.
#pragma once

#include <linux/kvm.h>

#include <vector>

#include "common/result.h"

namespace tandem::vmm {

// Leaf 1 EBX[31:24] holds an 8-bit initial APIC id, and 0xff is the xAPIC broadcast id.
inline constexpr unsigned kCpuidMaxVcpus = 255;

struct VcpuCpuidConfig {
  unsigned index = 0;  // this vCPU, 0..count-1
  unsigned count = 1;  // vCPUs in the VM
  // KVM_CHECK_EXTENSION(KVM_CAP_TSC_DEADLINE_TIMER) with the in-kernel LAPIC: KVM never reports
  // ECX[24] in its supported table (api.rst, KVM_GET_SUPPORTED_CPUID), so the caller must say.
  bool tscDeadlineTimer = false;
};

// The entries to hand KVM_SET_CPUID2 for one vCPU. Fails when leaf 0 or 1 is missing (the
// vendor and the APIC id live there) or the index and count are out of range.
Result<std::vector<kvm_cpuid_entry2>> cpuidForVcpu(const std::vector<kvm_cpuid_entry2>& supported,
                                                   const VcpuCpuidConfig& vcpu);

}  // namespace tandem::vmm

// The architectural state a vCPU starts in, computed as values (kvm_sregs, kvm_regs, MSR lists,
// GDT entries, page tables) so that every field is unit-tested without KVM:
// - the Linux 64-bit boot protocol: long mode with identity paging, %rsi = boot_params;
// - PVH entry: 32-bit protected mode, paging off, %ebx = hvm_start_info.
#pragma once

#include <linux/kvm.h>

#include <array>
#include <cstdint>
#include <vector>

#include "common/result.h"
#include "vmm/guest_memory.h"

namespace tandem::vmm {

// GDT descriptor flags as one 16-bit value: the 4-bit flags nibble (G, D/B, L, AVL) in bits
// 12-15 and the access byte in bits 0-7, the layout Firecracker and kvmtool also use.
inline constexpr std::uint16_t kCode64Flags = 0xa09b;  // present, ring 0, code r/x, L=1, G=1
inline constexpr std::uint16_t kCode32Flags = 0xc09b;  // as above with D=1 instead of L
inline constexpr std::uint16_t kDataFlags = 0xc093;    // present, ring 0, data r/w, B=1, G=1
inline constexpr std::uint16_t kTssFlags = 0x808b;     // present, busy 32/64-bit TSS, G=1

// Selector indices in the boot GDT: null, code, data, TSS.
inline constexpr std::uint16_t kCodeIndex = 1;
inline constexpr std::uint16_t kDataIndex = 2;
inline constexpr std::uint16_t kTssIndex = 3;

enum class EntryMode { kLongMode64, kProtectedMode32 };

std::uint64_t gdtEntry(std::uint16_t flags, std::uint32_t base, std::uint32_t limit);
kvm_segment segmentFromGdtEntry(std::uint64_t entry, std::uint16_t index);
std::array<std::uint64_t, 4> bootGdt(EntryMode mode);

// Identity-maps the first 4 GiB with 2 MiB pages at x86::kPml4Address onwards.
Status writeIdentityPageTables(const GuestMemory& memory);
// The boot GDT and an empty IDT at their x86_layout addresses.
Status writeDescriptorTables(const GuestMemory& memory, EntryMode mode);

// Segment, control and EFER registers for `mode`, on top of what KVM reports.
void setBootSregs(kvm_sregs& sregs, EntryMode mode);
// 64-bit: rip = entry, rsi = boot_params. 32-bit PVH: rip = entry, rbx = start_info.
kvm_regs bootRegs(EntryMode mode, std::uint64_t entry, std::uint64_t bootInfoAddress);
kvm_fpu bootFpu();
std::vector<kvm_msr_entry> bootMsrs();
// LINT0 as ExtINT (the PIC's path) and LINT1 as NMI, as a PC BIOS leaves them for an MP boot.
void setLapicLintModes(kvm_lapic_state& lapic);

}  // namespace tandem::vmm

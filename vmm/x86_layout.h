// Where tandem places things in an x86-64 guest's physical memory, named once. The low
// addresses follow the PC conventions Linux expects (real-mode IVT/BDA below 0x500, the EBDA
// just under 640 KiB, the BIOS area from 0xa0000 to 1 MiB); the kernel loads at 1 MiB.
#pragma once

#include <cstdint>

namespace tandem::x86 {

inline constexpr std::uint64_t kGdtAddress = 0x500;
inline constexpr std::uint64_t kIdtAddress = 0x520;
// hvm_start_info, its one module (the initrd) and its memory map, for PVH entry.
inline constexpr std::uint64_t kPvhInfoAddress = 0x6000;
inline constexpr std::uint64_t kPvhModuleAddress = 0x6040;
inline constexpr std::uint64_t kPvhMemmapAddress = 0x6080;
inline constexpr std::uint64_t kPvhMemmapMaxEntries = (0x7000 - kPvhMemmapAddress) / 24;
// boot_params ("zero page") for the Linux 64-bit boot protocol.
inline constexpr std::uint64_t kBootParamsAddress = 0x7000;
inline constexpr std::uint64_t kBootStackPointer = 0x8ff0;
// Identity page tables: one PML4, one PDPT, and PDs mapping the first 4 GiB with 2 MiB pages.
inline constexpr std::uint64_t kPml4Address = 0x9000;
inline constexpr std::uint64_t kPdptAddress = 0xa000;
inline constexpr std::uint64_t kPdAddress = 0xb000;  // four 4 KiB tables: 0xb000..0xefff
inline constexpr std::uint64_t kIdentityMappedBytes = 4ull << 30;
inline constexpr std::uint64_t kCmdlineAddress = 0x20000;
inline constexpr std::uint64_t kCmdlineMaxBytes = 0x10000;
// The MP floating pointer and configuration table live in the EBDA, where Linux searches.
inline constexpr std::uint64_t kEbdaAddress = 0x9fc00;
inline constexpr std::uint64_t kMpTableMaxBytes = 0x400;
// Usable low memory ends at the EBDA; 0xa0000..1 MiB is the legacy VGA/BIOS hole.
inline constexpr std::uint64_t kLowMemoryEnd = kEbdaAddress;
inline constexpr std::uint64_t kHighMemoryStart = 0x100000;
inline constexpr std::uint64_t kKernelLoadAddress = 0x100000;

// The 32-bit MMIO hole below 4 GiB: the IOAPIC, the LAPIC, and room for virtio-mmio devices.
inline constexpr std::uint64_t kMmioHoleStart = 0xd0000000;
inline constexpr std::uint64_t kMmioHoleEnd = 0x100000000;
// virtio-mmio windows, one page each, from the bottom of the hole.
inline constexpr std::uint64_t kVirtioMmioBase = kMmioHoleStart;
inline constexpr std::uint64_t kIoapicAddress = 0xfec00000;
inline constexpr std::uint64_t kLapicAddress = 0xfee00000;
// KVM needs three pages for the TSS on Intel; placed in the hole, out of the guest's RAM.
inline constexpr std::uint64_t kTssAddress = 0xfffbd000;

}  // namespace tandem::x86

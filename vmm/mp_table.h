// Intel MultiProcessor Specification 1.4 tables, so that a Linux guest booted without ACPI finds
// its vCPUs, the IOAPIC and how the ISA interrupts reach it.
//
// The bytes go at one guest address: the 16-byte MP floating pointer structure ("_MP_"), then
// the configuration table ("PCMP") it points to. Linux looks for the floating pointer in the last
// KiB of base memory, 0x9fc00 (arch/x86/kernel/mpparse.c: smp_scan_config), which is where
// x86::kEbdaAddress puts it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/result.h"
#include "vmm/x86_layout.h"

namespace tandem::vmm {

// vCPUs take APIC ids 0..n-1 and the IOAPIC takes n, below 0xff, which means "all I/O APICs"
// (MP spec 1.4, table 4-10).
inline constexpr unsigned kMpTableApicIdLimit = 254;

// Bytes the tables take for `cpuCount` vCPUs: a 20-byte processor entry each (table 4-3) on top
// of the floating pointer, the header and the fixed entries.
constexpr std::size_t mpTableSize(unsigned cpuCount) {
  constexpr std::size_t kFloatingPointer = 16;
  constexpr std::size_t kHeader = 44;
  constexpr std::size_t kProcessorEntry = 20;
  constexpr std::size_t kBusIoapicAndLocalInterrupts = 8 + 8 + 2 * 8;
  constexpr std::size_t kIoInterrupts = 24 * 8;
  return kFloatingPointer + kHeader + cpuCount * kProcessorEntry + kBusIoapicAndLocalInterrupts +
         kIoInterrupts;
}

// The most vCPUs whose tables fit the room the layout reserves in the EBDA: 37 with its 1 KiB,
// fewer than the APIC ids would allow.
inline constexpr unsigned kMpTableMaxCpus = [] {
  unsigned count = 0;
  while (count < kMpTableApicIdLimit && mpTableSize(count + 1) <= x86::kMpTableMaxBytes) {
    ++count;
  }
  return count;
}();
static_assert(kMpTableMaxCpus >= 1, "the EBDA room cannot hold an MP table for one vCPU");

// The floating pointer and configuration table for vCPUs 0..cpuCount-1 (APIC id = index, vCPU 0
// the bootstrap processor), to be copied to guest physical `baseAddress`. Fails for 0 vCPUs,
// more than kMpTableMaxCpus, or a base address Linux could not use (not 16-byte aligned, or the
// table above 4 GiB).
Result<std::vector<std::uint8_t>> buildMpTable(unsigned cpuCount, std::uint64_t baseAddress);

}  // namespace tandem::vmm

// The BIOS e820 memory map a Linux guest reads from boot_params (or PVH's memmap): which
// physical ranges are RAM. Built from the same region layout as GuestMemory.
#pragma once

#include <cstdint>
#include <vector>

namespace tandem::vmm {

enum class E820Type : std::uint32_t { kRam = 1, kReserved = 2 };

struct E820Entry {
  std::uint64_t address = 0;
  std::uint64_t size = 0;
  E820Type type = E820Type::kRam;
};

// RAM below the EBDA, then RAM from 1 MiB to the MMIO hole, then RAM above 4 GiB. The EBDA (where
// the MP table lives) and the legacy 640 KiB-1 MiB hole are left out of RAM, as on a PC.
std::vector<E820Entry> e820Map(std::uint64_t memoryBytes);

}  // namespace tandem::vmm

// An x86-64 ELF vmlinux, read for loading: its PT_LOAD segments at their physical addresses, its
// 64-bit entry (e_entry, which x86-64's linker script makes physical: phys_startup_64), and the
// PVH entry from its XEN_ELFNOTE_PHYS32_ENTRY note when CONFIG_PVH put one there. It is both the
// file a user passes as --kernel and what the VMM finds inside a bzImage's compressed payload.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "vmm/guest_memory.h"

namespace tandem::vmm {

inline constexpr std::uint32_t kXenElfNotePhys32Entry = 18;

struct ElfSegment {
  std::uint64_t guestAddress = 0;
  std::uint64_t fileOffset = 0;
  std::uint64_t fileSize = 0;
  std::uint64_t memorySize = 0;
};

struct ElfKernel {
  std::uint64_t entry = 0;  // e_entry
  std::optional<std::uint64_t> pvhEntry;
  std::vector<ElfSegment> segments;
  std::uint64_t lowestAddress = 0;   // start of the lowest segment
  std::uint64_t highestAddress = 0;  // end of the highest segment
};

bool isElf(std::span<const std::uint8_t> file);

// Validates a little-endian x86-64 ELF with at least one loadable segment; every offset and size
// is checked against the file, so a truncated or hostile image is an error naming `path`.
Result<ElfKernel> parseElfKernel(std::span<const std::uint8_t> file, const std::string& path);

// Copies each segment to its guest address and zeroes the rest of its memory size (.bss).
// `file` must be the one `kernel` was parsed from.
Status loadElfSegments(const GuestMemory& memory, const ElfKernel& kernel,
                       std::span<const std::uint8_t> file);

}  // namespace tandem::vmm

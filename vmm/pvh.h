// PVH entry for an ELF vmlinux (xen/include/public/arch-x86/hvm/start_info.h, and the
// XEN_ELFNOTE_PHYS32_ENTRY note Linux emits with CONFIG_PVH): the kernel is loaded segment by
// segment at its physical addresses and entered in 32-bit protected mode with %ebx pointing at
// hvm_start_info. It skips the bzImage's decompressor.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "vmm/e820.h"
#include "vmm/guest_memory.h"
#include "vmm/linux_boot.h"

namespace tandem::vmm {

inline constexpr std::uint32_t kHvmStartMagic = 0x336ec578;
inline constexpr std::uint32_t kXenElfNotePhys32Entry = 18;

struct ElfSegment {
  std::uint64_t guestAddress = 0;
  std::uint64_t fileOffset = 0;
  std::uint64_t fileSize = 0;
  std::uint64_t memorySize = 0;
};

struct PvhKernel {
  std::uint64_t entry = 0;
  std::vector<ElfSegment> segments;
  std::uint64_t highestAddress = 0;  // end of the highest segment
};

bool isElf(std::span<const std::uint8_t> file);

// Validates an x86-64 ELF with a PVH entry note; every offset and size is checked against the
// file, so a truncated or hostile image is an error naming `path`.
Result<PvhKernel> parsePvhElf(std::span<const std::uint8_t> file, const std::string& path);

// hvm_start_info (version 1) with the command line, the initrd as module 0 when it has one,
// and the memory map, at the x86_layout PVH addresses.
Status writePvhStartInfo(const GuestMemory& memory, std::uint64_t cmdlineAddress,
                         const InitrdPlacement& initrd, const std::vector<E820Entry>& e820);

}  // namespace tandem::vmm

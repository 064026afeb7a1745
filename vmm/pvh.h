// PVH entry for an ELF vmlinux (xen/include/public/arch-x86/hvm/start_info.h): the kernel is
// loaded segment by segment at its physical addresses and entered at its
// XEN_ELFNOTE_PHYS32_ENTRY in 32-bit protected mode, with %ebx pointing at hvm_start_info.
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "vmm/e820.h"
#include "vmm/guest_memory.h"
#include "vmm/linux_boot.h"

namespace tandem::vmm {

inline constexpr std::uint32_t kHvmStartMagic = 0x336ec578;

// hvm_start_info (version 1) with the command line, the initrd as module 0 when it has one,
// and the memory map, at the x86_layout PVH addresses.
Status writePvhStartInfo(const GuestMemory& memory, std::uint64_t cmdlineAddress,
                         const InitrdPlacement& initrd, const std::vector<E820Entry>& e820);

}  // namespace tandem::vmm

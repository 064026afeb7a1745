// Puts a Linux kernel, its initrd and command line into guest memory, with the boot data its
// entry point expects: boot_params for a bzImage's 64-bit entry, hvm_start_info for an ELF
// vmlinux's PVH entry. Which one is decided by the file itself.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/result.h"
#include "vmm/boot_cpu_state.h"
#include "vmm/guest_memory.h"
#include "vmm/initrd_source.h"
#include "vmm/vmlinux_cache.h"

namespace tandem::vmm {

struct BootEntry {
  EntryMode mode = EntryMode::kLongMode64;
  std::uint64_t entry = 0;
  std::uint64_t bootInfoAddress = 0;  // boot_params or hvm_start_info
};

struct KernelImage {
  std::string path;  // for messages
  std::span<const std::uint8_t> bytes;
  // Where a bzImage's decompressed vmlinux is kept between boots, with the file's identity as
  // its key; without a cache the payload is decompressed at every boot.
  const VmlinuxCache* cache = nullptr;
  KernelFileIdentity identity = {};
};

// `memory` must be fresh: the loader writes the kernel, initrd, command line, boot data, GDT and
// page tables; the MP table and the vCPU registers are the caller's.
Result<BootEntry> loadLinux(const GuestMemory& memory, const KernelImage& kernel,
                            const InitrdSource& initrd, const std::string& cmdline);

}  // namespace tandem::vmm

#include "vmm/kernel_loader.h"

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

#include "common/size.h"
#include "vmm/bzimage.h"
#include "vmm/e820.h"
#include "vmm/elf_kernel.h"
#include "vmm/kernel_payload.h"
#include "vmm/linux_boot.h"
#include "vmm/pvh.h"
#include "vmm/x86_layout.h"

namespace tandem::vmm {
namespace {

Status writeCmdline(const GuestMemory& memory, const std::string& cmdline) {
  if (cmdline.size() + 1 > x86::kCmdlineMaxBytes) {
    return Error("the kernel command line is " + std::to_string(cmdline.size()) +
                     " bytes; the VMM has room for " + std::to_string(x86::kCmdlineMaxBytes - 1),
                 E2BIG);
  }
  std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(cmdline.c_str()),
                                      cmdline.size() + 1);
  return memory.write(x86::kCmdlineAddress, bytes);
}

Status checkKernelFits(const GuestMemory& memory, std::uint64_t end, const std::string& path) {
  std::uint64_t lowEnd = memory.regions().front().size;
  if (end > lowEnd) {
    return Error("the kernel " + path + " needs guest memory up to " + formatSize(end) +
                     ", more than the VM's " + formatSize(memory.size()) +
                     "; give the VM more memory with --memory",
                 ENOMEM);
  }
  return okStatus();
}

// Decompresses the vmlinux inside the bzImage here and loads it at its link addresses, so that the
// guest starts at the kernel's own 64-bit entry instead of running the decompressor (see
// kernel_payload.h). Returns that entry, or nothing when the payload's format is one only the
// guest's decompressor reads. Skipping the decompressor also skips its KASLR choice: the kernel
// runs at its link address, as a vmlinux booted by Firecracker does.
// Placed by its size bound, written in place, then described by its actual length.
Result<InitrdPlacement> writeInitrd(const GuestMemory& memory, const InitrdSource& initrd,
                                    std::uint64_t lowestAddress, std::uint64_t initrdEnd) {
  if (initrd.maxBytes() == 0) {
    return InitrdPlacement{};
  }
  TANDEM_ASSIGN_OR_RETURN(InitrdPlacement placement,
                          placeInitrd(initrd.maxBytes(), memory.size(), lowestAddress, initrdEnd));
  TANDEM_ASSIGN_OR_RETURN(auto target, memory.slice(placement.address, placement.size));
  TANDEM_ASSIGN_OR_RETURN(placement.size, initrd.writeTo(target));
  return placement;
}

Result<std::optional<std::uint64_t>> loadPayloadVmlinux(const GuestMemory& memory,
                                                        const KernelImage& kernel,
                                                        const BzImage& image,
                                                        std::uint64_t runtimeStart,
                                                        std::uint64_t runtimeEnd) {
  TANDEM_ASSIGN_OR_RETURN(auto payload, bzImagePayload(image, kernel.bytes, kernel.path));
  PayloadFormat format = payloadFormat(payload);
  if (!hostCanDecompress(format)) {
    spdlog::debug("{}: its {} payload is left to the kernel's own decompressor", kernel.path,
                  payloadFormatName(format));
    return std::optional<std::uint64_t>();
  }
  TANDEM_ASSIGN_OR_RETURN(
      DecompressedKernel vmlinux,
      kernel.cache != nullptr
          ? kernel.cache->vmlinux(kernel.identity, payload, image.initSize, kernel.path)
          : decompressPayload(payload, image.initSize, kernel.path));
  std::string what =
      kernel.path + " (the vmlinux in its " + std::string(payloadFormatName(format)) + " payload)";
  TANDEM_ASSIGN_OR_RETURN(ElfKernel elf, parseElfKernel(vmlinux.bytes(), what));
  if (elf.lowestAddress < runtimeStart || elf.highestAddress > runtimeEnd) {
    return Error(fmt::format("{} occupies {:#x}-{:#x}, outside the range {:#x}-{:#x} its setup "
                             "header reserves; the image is inconsistent",
                             what, elf.lowestAddress, elf.highestAddress, runtimeStart, runtimeEnd),
                 ENOEXEC);
  }
  if (elf.entry < elf.lowestAddress || elf.entry >= elf.highestAddress) {
    return Error(
        fmt::format("{} has its entry point {:#x} outside its own segments", what, elf.entry),
        ENOEXEC);
  }
  TANDEM_TRY(loadElfSegments(memory, elf, vmlinux.bytes()));
  spdlog::debug("{}: {} bytes, entered at {:#x}", what, vmlinux.size, elf.entry);
  return std::optional<std::uint64_t>(elf.entry);
}

Result<BootEntry> loadBzImage(const GuestMemory& memory, const KernelImage& kernel,
                              const InitrdSource& initrd, const std::string& cmdline) {
  TANDEM_ASSIGN_OR_RETURN(BzImage image, parseBzImage(kernel.bytes, kernel.path));
  // boot protocol 2.10: the kernel decompresses to and runs from pref_address (a relocatable
  // kernel never goes below it), needing init_size bytes there, so that whole range, not just
  // the compressed image at the load address, must stay clear of the initrd.
  std::uint64_t runtimeStart =
      std::max<std::uint64_t>(x86::kKernelLoadAddress, image.header.pref_address);
  std::uint64_t runtimeEnd = runtimeStart + image.initSize;
  std::uint64_t kernelEnd = std::max(x86::kKernelLoadAddress + image.kernelSize, runtimeEnd);
  TANDEM_TRY(checkKernelFits(memory, kernelEnd, kernel.path));
  TANDEM_ASSIGN_OR_RETURN(std::optional<std::uint64_t> entry,
                          loadPayloadVmlinux(memory, kernel, image, runtimeStart, runtimeEnd));
  if (!entry) {
    TANDEM_TRY(memory.write(x86::kKernelLoadAddress,
                            kernel.bytes.subspan(image.kernelOffset, image.kernelSize)));
    entry = x86::kKernelLoadAddress + kBzImage64BitEntryOffset;
  }
  TANDEM_ASSIGN_OR_RETURN(InitrdPlacement placement,
                          writeInitrd(memory, initrd, kernelEnd, image.initrdEnd));
  TANDEM_TRY(writeCmdline(memory, cmdline));
  BootParamsInput input{x86::kCmdlineAddress, cmdline.size(), placement, e820Map(memory.size())};
  TANDEM_ASSIGN_OR_RETURN(boot_params params, buildBootParams(image, input));
  TANDEM_TRY(memory.writeObject(x86::kBootParamsAddress, params));
  TANDEM_TRY(writeIdentityPageTables(memory));
  TANDEM_TRY(writeDescriptorTables(memory, EntryMode::kLongMode64));
  return BootEntry{EntryMode::kLongMode64, *entry, x86::kBootParamsAddress};
}

Result<BootEntry> loadPvhElf(const GuestMemory& memory, const KernelImage& kernel,
                             const InitrdSource& initrd, const std::string& cmdline) {
  TANDEM_ASSIGN_OR_RETURN(ElfKernel image, parseElfKernel(kernel.bytes, kernel.path));
  if (!image.pvhEntry) {
    return Error(kernel.path +
                     " is not a bootable x86-64 ELF kernel: no PVH entry note "
                     "(XEN_ELFNOTE_PHYS32_ENTRY); build it with CONFIG_PVH=y, or boot its bzImage "
                     "instead",
                 ENOEXEC);
  }
  TANDEM_TRY(checkKernelFits(memory, image.highestAddress, kernel.path));
  TANDEM_TRY(loadElfSegments(memory, image, kernel.bytes));
  // PVH has no initrd_addr_max; the kernel maps what start_info names.
  TANDEM_ASSIGN_OR_RETURN(InitrdPlacement placement,
                          writeInitrd(memory, initrd, image.highestAddress, UINT64_MAX));
  TANDEM_TRY(writeCmdline(memory, cmdline));
  TANDEM_TRY(writePvhStartInfo(memory, x86::kCmdlineAddress, placement, e820Map(memory.size())));
  TANDEM_TRY(writeDescriptorTables(memory, EntryMode::kProtectedMode32));
  return BootEntry{EntryMode::kProtectedMode32, *image.pvhEntry, x86::kPvhInfoAddress};
}

}  // namespace

Result<BootEntry> loadLinux(const GuestMemory& memory, const KernelImage& kernel,
                            const InitrdSource& initrd, const std::string& cmdline) {
  if (isElf(kernel.bytes)) {
    return loadPvhElf(memory, kernel, initrd, cmdline);
  }
  return loadBzImage(memory, kernel, initrd, cmdline);
}

}  // namespace tandem::vmm

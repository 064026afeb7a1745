#include "vmm/kernel_loader.h"

#include <algorithm>
#include <cstring>

#include "common/size.h"
#include "vmm/bzimage.h"
#include "vmm/e820.h"
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

Result<BootEntry> loadBzImage(const GuestMemory& memory, const KernelImage& kernel,
                              std::span<const std::uint8_t> initrd, const std::string& cmdline) {
  TANDEM_ASSIGN_OR_RETURN(BzImage image, parseBzImage(kernel.bytes, kernel.path));
  // boot protocol 2.10: the kernel decompresses to and runs from pref_address (a relocatable
  // kernel never goes below it), needing init_size bytes there, so that whole range, not just
  // the compressed image at the load address, must stay clear of the initrd.
  std::uint64_t runtimeStart =
      std::max<std::uint64_t>(x86::kKernelLoadAddress, image.header.pref_address);
  std::uint64_t kernelEnd =
      std::max(x86::kKernelLoadAddress + image.kernelSize, runtimeStart + image.initSize);
  TANDEM_TRY(checkKernelFits(memory, kernelEnd, kernel.path));
  TANDEM_TRY(memory.write(x86::kKernelLoadAddress,
                          kernel.bytes.subspan(image.kernelOffset, image.kernelSize)));
  InitrdPlacement placement;
  if (!initrd.empty()) {
    TANDEM_ASSIGN_OR_RETURN(placement,
                            placeInitrd(initrd.size(), memory.size(), kernelEnd, image.initrdEnd));
    TANDEM_TRY(memory.write(placement.address, initrd));
  }
  TANDEM_TRY(writeCmdline(memory, cmdline));
  BootParamsInput input{x86::kCmdlineAddress, cmdline.size(), placement, e820Map(memory.size())};
  TANDEM_ASSIGN_OR_RETURN(boot_params params, buildBootParams(image, input));
  TANDEM_TRY(memory.writeObject(x86::kBootParamsAddress, params));
  TANDEM_TRY(writeIdentityPageTables(memory));
  TANDEM_TRY(writeDescriptorTables(memory, EntryMode::kLongMode64));
  return BootEntry{EntryMode::kLongMode64, x86::kKernelLoadAddress + kBzImage64BitEntryOffset,
                   x86::kBootParamsAddress};
}

Result<BootEntry> loadPvhElf(const GuestMemory& memory, const KernelImage& kernel,
                             std::span<const std::uint8_t> initrd, const std::string& cmdline) {
  TANDEM_ASSIGN_OR_RETURN(PvhKernel image, parsePvhElf(kernel.bytes, kernel.path));
  TANDEM_TRY(checkKernelFits(memory, image.highestAddress, kernel.path));
  for (const auto& segment : image.segments) {
    TANDEM_ASSIGN_OR_RETURN(auto target, memory.slice(segment.guestAddress, segment.memorySize));
    auto source = kernel.bytes.subspan(segment.fileOffset, segment.fileSize);
    std::copy(source.begin(), source.end(), target.begin());
    std::fill(target.begin() + static_cast<long>(segment.fileSize), target.end(), 0);
  }
  InitrdPlacement placement;
  if (!initrd.empty()) {
    // PVH has no initrd_addr_max; the kernel maps what start_info names.
    TANDEM_ASSIGN_OR_RETURN(
        placement, placeInitrd(initrd.size(), memory.size(), image.highestAddress, UINT64_MAX));
    TANDEM_TRY(memory.write(placement.address, initrd));
  }
  TANDEM_TRY(writeCmdline(memory, cmdline));
  TANDEM_TRY(writePvhStartInfo(memory, x86::kCmdlineAddress, placement, e820Map(memory.size())));
  TANDEM_TRY(writeDescriptorTables(memory, EntryMode::kProtectedMode32));
  return BootEntry{EntryMode::kProtectedMode32, image.entry, x86::kPvhInfoAddress};
}

}  // namespace

Result<BootEntry> loadLinux(const GuestMemory& memory, const KernelImage& kernel,
                            std::span<const std::uint8_t> initrd, const std::string& cmdline) {
  if (isElf(kernel.bytes)) {
    return loadPvhElf(memory, kernel, initrd, cmdline);
  }
  return loadBzImage(memory, kernel, initrd, cmdline);
}

}  // namespace tandem::vmm

#include "vmm/linux_boot.h"

#include <algorithm>

#include "common/size.h"
#include "vmm/x86_layout.h"

namespace tandem::vmm {
namespace {

constexpr std::uint64_t kPageSize = 4096;
// boot protocol: type_of_loader 0xff is "undefined", for loaders without an assigned id.
constexpr std::uint8_t kUndefinedLoader = 0xff;
// boot protocol: heap_end_ptr is relative to the real-mode code, which we never run; this is
// the value the protocol document suggests for a full 0x8000 segment.
constexpr std::uint16_t kHeapEnd = 0xfe00;

}  // namespace

Result<InitrdPlacement> placeInitrd(std::uint64_t initrdSize, std::uint64_t memoryBytes,
                                    std::uint64_t lowestAddress, std::uint64_t initrdEnd) {
  std::uint64_t lowRamEnd = std::min(memoryBytes, x86::kMmioHoleStart);
  std::uint64_t end = std::min(lowRamEnd, initrdEnd);
  std::uint64_t lowest = (lowestAddress + kPageSize - 1) & ~(kPageSize - 1);
  if (initrdSize > end || ((end - initrdSize) & ~(kPageSize - 1)) < lowest) {
    return Error("the initramfs (" + formatSize(initrdSize) + ") does not fit in guest memory (" +
                     formatSize(memoryBytes) + ") above the kernel, which needs everything up to " +
                     formatSize(lowestAddress) + "; give the VM more memory with --memory",
                 ENOMEM);
  }
  return InitrdPlacement{(end - initrdSize) & ~(kPageSize - 1), initrdSize};
}

Result<boot_params> buildBootParams(const BzImage& image, const BootParamsInput& input) {
  if (input.cmdlineLength > image.cmdlineMax) {
    return Error("the kernel command line is " + std::to_string(input.cmdlineLength) +
                     " bytes; this kernel accepts at most " + std::to_string(image.cmdlineMax),
                 E2BIG);
  }
  if (input.e820.size() > E820_MAX_ENTRIES_ZEROPAGE) {
    return Error("too many e820 entries for the zero page", E2BIG);
  }
  boot_params params{};
  params.hdr = image.header;
  params.hdr.type_of_loader = kUndefinedLoader;
  params.hdr.loadflags |= CAN_USE_HEAP;
  params.hdr.heap_end_ptr = kHeapEnd;
  // Video mode 0xffff: "normal", so the kernel asks nothing of a BIOS that is not there.
  params.hdr.vid_mode = 0xffff;
  params.hdr.cmd_line_ptr = static_cast<std::uint32_t>(input.cmdlineAddress);
  params.ext_cmd_line_ptr = static_cast<std::uint32_t>(input.cmdlineAddress >> 32);
  params.hdr.ramdisk_image = static_cast<std::uint32_t>(input.initrd.address);
  params.ext_ramdisk_image = static_cast<std::uint32_t>(input.initrd.address >> 32);
  params.hdr.ramdisk_size = static_cast<std::uint32_t>(input.initrd.size);
  params.ext_ramdisk_size = static_cast<std::uint32_t>(input.initrd.size >> 32);
  params.e820_entries = static_cast<std::uint8_t>(input.e820.size());
  for (std::size_t i = 0; i < input.e820.size(); ++i) {
    params.e820_table[i].addr = input.e820[i].address;
    params.e820_table[i].size = input.e820[i].size;
    params.e820_table[i].type = static_cast<std::uint32_t>(input.e820[i].type);
  }
  return params;
}

}  // namespace tandem::vmm

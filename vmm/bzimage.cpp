#include "vmm/bzimage.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace tandem::vmm {
namespace {

constexpr std::size_t kSetupHeaderOffset = 0x1f1;
constexpr std::uint16_t kBootFlag = 0xaa55;
constexpr std::uint32_t kHeaderMagic = 0x53726448;  // "HdrS"
// 2.12 brought xloadflags, which says whether the 64-bit entry exists.
constexpr std::uint16_t kMinimumProtocol = 0x020c;
constexpr std::size_t kSectorSize = 512;

std::string protocolText(std::uint16_t version) {
  char text[16];
  std::snprintf(text, sizeof(text), "%u.%02u", version >> 8, version & 0xff);
  return text;
}

}  // namespace

Result<BzImage> parseBzImage(std::span<const std::uint8_t> file, const std::string& path) {
  auto invalid = [&](const std::string& why) {
    return Error(path + " is not a bootable x86-64 Linux kernel: " + why +
                     "; pass a bzImage (arch/x86/boot/bzImage) or an ELF vmlinux",
                 ENOEXEC);
  };
  // The header's own length is given by the jump at 0x200: it ends where the jump lands.
  constexpr std::size_t kJumpEnd = 0x202;
  if (file.size() < kJumpEnd + 4) {
    return invalid("only " + std::to_string(file.size()) + " bytes, too short for a boot header");
  }
  BzImage image;
  std::size_t headerEnd = std::min<std::size_t>(kJumpEnd + file[0x201], file.size());
  std::size_t headerBytes = std::min(headerEnd - kSetupHeaderOffset, sizeof(setup_header));
  std::memcpy(&image.header, file.data() + kSetupHeaderOffset, headerBytes);
  const setup_header& header = image.header;

  if (header.boot_flag != kBootFlag || header.header != kHeaderMagic) {
    return invalid("no boot sector signature 0xaa55 and 'HdrS' header at 0x1fe");
  }
  if (header.version < kMinimumProtocol) {
    return invalid("boot protocol " + protocolText(header.version) +
                   " is older than 2.12, which introduced the 64-bit entry point");
  }
  if (headerBytes < offsetof(setup_header, init_size) + sizeof(header.init_size)) {
    return invalid("its setup header is truncated (" + std::to_string(headerBytes) + " bytes)");
  }
  if ((header.xloadflags & XLF_KERNEL_64) == 0) {
    return invalid("it has no 64-bit entry point (XLF_KERNEL_64 is clear): a 32-bit kernel");
  }
  // Boot protocol: a setup_sects of 0 means 4.
  std::size_t setupSectors = header.setup_sects == 0 ? 4 : header.setup_sects;
  image.kernelOffset = (setupSectors + 1) * kSectorSize;
  if (image.kernelOffset >= file.size()) {
    return invalid("truncated: the protected-mode kernel should start at byte " +
                   std::to_string(image.kernelOffset) + " of " + std::to_string(file.size()));
  }
  image.kernelSize = file.size() - image.kernelOffset;
  // syssize counts 16-byte paragraphs of the protected-mode kernel.
  std::uint64_t declaredSize = std::uint64_t{header.syssize} * 16;
  if (declaredSize > image.kernelSize) {
    return invalid("truncated: its header declares " + std::to_string(declaredSize) +
                   " bytes of kernel after the setup code, the file holds " +
                   std::to_string(image.kernelSize));
  }
  image.initSize = std::max<std::uint64_t>(header.init_size, image.kernelSize);
  image.cmdlineMax = header.cmdline_size;
  image.initrdEnd = (header.xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G)
                        ? UINT64_MAX
                        : std::uint64_t{header.initrd_addr_max} + 1;
  return image;
}

}  // namespace tandem::vmm

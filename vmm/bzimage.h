// Reading a bzImage by the Linux x86 boot protocol (Documentation/arch/x86/boot.rst): the
// setup header in its first sectors, and where the protected-mode kernel starts.
#pragma once

#include <asm/bootparam.h>

#include <cstdint>
#include <span>
#include <string>

#include "common/result.h"

namespace tandem::vmm {

// The 64-bit entry point (boot protocol 2.12, XLF_KERNEL_64) is 0x200 past the load address.
inline constexpr std::uint64_t kBzImage64BitEntryOffset = 0x200;

struct BzImage {
  // The file's setup header; fields past what its protocol version defines are zero.
  setup_header header{};
  // Where the protected-mode kernel starts in the file, and its length.
  std::uint64_t kernelOffset = 0;
  std::uint64_t kernelSize = 0;
  // Memory the kernel needs from its load address while it decompresses and initialises.
  std::uint64_t initSize = 0;
  // The longest command line the kernel accepts, without the terminating NUL.
  std::uint32_t cmdlineMax = 0;
  // The highest address an initrd may end at (exclusive).
  std::uint64_t initrdEnd = 0;
};

// Validates `file` as a 64-bit-capable bzImage; `path` names it in errors.
Result<BzImage> parseBzImage(std::span<const std::uint8_t> file, const std::string& path);

}  // namespace tandem::vmm

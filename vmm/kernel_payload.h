// The compressed vmlinux inside a bzImage (boot protocol 2.08: payload_offset/payload_length),
// decompressed by the VMM instead of by the kernel's own decompressor inside the guest.
//
// Why: the guest's decompressor runs at guest speed and moves the whole kernel twice (it copies
// itself out of the way, inflates, then moves each ELF segment into place). In a nested or
// emulated host that is most of the boot. Done here once, natively, the guest starts straight
// at the kernel's 64-bit entry, as with an ELF vmlinux, from the same bzImage file.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/mapped_region.h"
#include "common/result.h"
#include "vmm/bzimage.h"

namespace tandem::vmm {

// The formats Linux can compress its x86 kernel with (CONFIG_KERNEL_*), by their magic.
enum class PayloadFormat { kGzip, kBzip2, kLzma, kXz, kLzo, kLz4, kZstd, kElf, kUnknown };

PayloadFormat payloadFormat(std::span<const std::uint8_t> payload);
std::string_view payloadFormatName(PayloadFormat format);

// Whether decompressPayload reads `format`; for the others (bzip2, lzma, lzo) the guest's own
// decompressor has to run.
bool hostCanDecompress(PayloadFormat format);

// The payload's bytes within `file`, checked against the file's size; empty when the header is
// older than protocol 2.08 and does not say where they are.
Result<std::span<const std::uint8_t>> bzImagePayload(const BzImage& image,
                                                     std::span<const std::uint8_t> file,
                                                     const std::string& path);

// The size the kernel's build appends to the payload (four little-endian bytes): that of the
// decompressed vmlinux. 0 when the payload is too short to have it.
std::uint32_t declaredDecompressedSize(std::span<const std::uint8_t> payload);

// The vmlinux ELF the payload holds. The kernel's build appends the decompressed size as four
// little-endian bytes; the output must have exactly that size, at most `maxBytes` (the kernel's
// init_size: it decompresses in place within it), or the payload is refused as corrupt.
struct DecompressedKernel {
  MappedRegion buffer;
  std::size_t size = 0;
  std::span<const std::uint8_t> bytes() const { return {buffer.data(), size}; }
};
Result<DecompressedKernel> decompressPayload(std::span<const std::uint8_t> payload,
                                             std::uint64_t maxBytes, const std::string& path);

}  // namespace tandem::vmm

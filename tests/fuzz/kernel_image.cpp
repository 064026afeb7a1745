// Kernel files as the VMM reads them: a bzImage's setup header and the payload it points at
// (decompressed within a bound, as the loader does), and an ELF vmlinux's headers, PVH note and
// segments, loaded into a small guest RAM. Whatever parses must stay within the file and the
// guest's memory.
#include <algorithm>

#include "tests/fuzz/fuzz_input.h"
#include "vmm/bzimage.h"
#include "vmm/elf_kernel.h"
#include "vmm/guest_memory.h"
#include "vmm/kernel_payload.h"

using namespace tandem::vmm;

namespace {

constexpr std::uint64_t kGuestRam = 16u << 20;
// Larger kernels are refused by the loader's own bound long before; this keeps each run fast.
constexpr std::uint64_t kMaxDecompressed = 16u << 20;

const GuestMemory& guestMemory() {
  static GuestMemory memory = std::move(GuestMemory::create(kGuestRam, false)).value();
  return memory;
}

void readElf(std::span<const std::uint8_t> file) {
  if (!isElf(file)) {
    return;
  }
  auto kernel = parseElfKernel(file, "fuzz");
  if (!kernel) {
    return;
  }
  for (const auto& segment : kernel->segments) {
    fuzzCheck(
        segment.fileOffset <= file.size() && segment.fileSize <= file.size() - segment.fileOffset,
        "an ELF segment lies within its file");
  }
  (void)loadElfSegments(guestMemory(), *kernel, file);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> file(data, size);
  readElf(file);
  auto image = parseBzImage(file, "fuzz");
  if (!image) {
    return 0;
  }
  fuzzCheck(image->kernelOffset <= size && image->kernelSize <= size - image->kernelOffset,
            "a bzImage's kernel lies within its file");
  auto payload = bzImagePayload(*image, file, "fuzz");
  if (!payload || payload->empty()) {
    return 0;
  }
  PayloadFormat format = payloadFormat(*payload);
  (void)payloadFormatName(format);
  (void)declaredDecompressedSize(*payload);
  if (!hostCanDecompress(format)) {
    return 0;
  }
  std::uint64_t bound = std::min<std::uint64_t>(image->initSize, kMaxDecompressed);
  if (auto kernel = decompressPayload(*payload, bound, "fuzz")) {
    fuzzCheck(kernel->size <= bound, "a decompressed kernel keeps to its bound");
    readElf(kernel->bytes());
  }
  return 0;
}

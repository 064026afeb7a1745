// The Linux x86 boot protocol's data: where the initrd goes and the boot_params ("zero page")
// a 64-bit entry hands the kernel in %rsi.
#pragma once

#include <asm/bootparam.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "vmm/bzimage.h"
#include "vmm/e820.h"

namespace tandem::vmm {

struct InitrdPlacement {
  std::uint64_t address = 0;
  std::uint64_t size = 0;
};

// As high as the kernel allows (boot protocol: "as high as possible"), page-aligned, inside RAM
// below the MMIO hole, above `lowestAddress` (the end of the kernel's init_size). Fails with what
// to change when it does not fit.
Result<InitrdPlacement> placeInitrd(std::uint64_t initrdSize, std::uint64_t memoryBytes,
                                    std::uint64_t lowestAddress, std::uint64_t initrdEnd);

struct BootParamsInput {
  std::uint64_t cmdlineAddress = 0;
  std::uint64_t cmdlineLength = 0;  // without the NUL
  InitrdPlacement initrd;
  std::vector<E820Entry> e820;
};

// The zero page for `image`: its own setup header plus what a boot loader fills in.
Result<boot_params> buildBootParams(const BzImage& image, const BootParamsInput& input);

}  // namespace tandem::vmm

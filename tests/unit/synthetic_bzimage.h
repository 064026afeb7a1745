// A bzImage made in memory, laid out as the kernel's build does (boot sector, setup sectors,
// protected-mode kernel), for the tests of the bzImage parser and of the kernel loader.
#pragma once

#include <asm/bootparam.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

inline constexpr std::size_t kSetupHeaderOffset = 0x1f1;
inline constexpr std::size_t kSectorSize = 512;
// Where a full (protocol 2.15) setup header ends: the jump at 0x200 lands there.
inline constexpr std::size_t kHeaderEnd = kSetupHeaderOffset + sizeof(setup_header);

inline std::size_t kernelOffsetFor(std::uint8_t setupSects) {
  return ((setupSects == 0 ? 4 : setupSects) + 1) * kSectorSize;
}

// The header of a relocatable 64-bit kernel of protocol 2.15 that runs from 16 MiB, with
// `kernelBytes` of protected-mode kernel after `setupSects` setup sectors.
inline setup_header syntheticSetupHeader(std::uint8_t setupSects, std::size_t kernelBytes) {
  setup_header header{};
  header.setup_sects = setupSects;
  header.syssize = static_cast<std::uint32_t>(kernelBytes / 16);
  header.boot_flag = 0xaa55;
  header.jump = static_cast<std::uint16_t>(0xeb | ((kHeaderEnd - 0x202) << 8));
  header.header = 0x53726448;
  header.version = 0x020f;
  header.loadflags = LOADED_HIGH;
  header.initrd_addr_max = 0x7fffffff;
  header.kernel_alignment = 0x200000;
  header.relocatable_kernel = 1;
  header.xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
  header.cmdline_size = 2047;
  header.pref_address = 0x1000000;
  header.init_size = 0x20000;
  header.handover_offset = 0x190;
  header.kernel_info_offset = 0x4d0;
  return header;
}

// The file for `header`, whose kernel bytes count up so that a wrong offset shows.
inline std::vector<std::uint8_t> syntheticBzImage(const setup_header& header,
                                                  std::size_t kernelBytes) {
  std::size_t kernelOffset = kernelOffsetFor(header.setup_sects);
  std::vector<std::uint8_t> file(kernelOffset + kernelBytes, 0);
  for (std::size_t i = 0; i < kernelBytes; ++i) {
    file[kernelOffset + i] = static_cast<std::uint8_t>(i * 7 + 1);
  }
  std::memcpy(file.data() + kSetupHeaderOffset, &header, sizeof(header));
  return file;
}

// parseBzImage on a real kernel build. The file comes from TANDEM_TEST_BZIMAGE (set by the
// meson option guest_kernel) or else TANDEM_GUEST_KERNEL (which scripts/test.sh exports for the
// vm suite, so CI always runs this); with neither, the test is skipped.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

#include "common/file.h"
#include "tests/unit/unit_test.h"
#include "vmm/bzimage.h"
#include "vmm/elf_kernel.h"
#include "vmm/kernel_payload.h"

using tandem::vmm::BzImage;
using tandem::vmm::bzImagePayload;
using tandem::vmm::decompressPayload;
using tandem::vmm::hostCanDecompress;
using tandem::vmm::parseBzImage;
using tandem::vmm::parseElfKernel;
using tandem::vmm::payloadFormat;

namespace {

constexpr std::size_t kSetupHeaderOffset = 0x1f1;
constexpr std::size_t kSectorSize = 512;

std::string kernelPath;
std::vector<std::uint8_t> kernelFile;

BzImage parsedKernel() {
  auto image = parseBzImage(kernelFile, kernelPath);
  if (!image.ok()) {
    fail_msg("%s", image.error().message().c_str());
  }
  return *image;
}

bool startsWith(const std::vector<std::uint8_t>& bytes, std::size_t at,
                std::initializer_list<std::uint8_t> magic) {
  return at + magic.size() <= bytes.size() &&
         std::equal(magic.begin(), magic.end(), bytes.begin() + static_cast<long>(at));
}

}  // namespace

static void parses(void**) {
  const BzImage image = parsedKernel();
  const setup_header& header = image.header;
  assert_true(header.version >= 0x020c);
  assert_true(header.xloadflags & XLF_KERNEL_64);

  std::size_t headerEnd = 0x202 + kernelFile[0x201];
  std::size_t headerBytes = std::min(headerEnd - kSetupHeaderOffset, sizeof(setup_header));
  assert_memory_equal(&header, kernelFile.data() + kSetupHeaderOffset, headerBytes);

  std::size_t setupSectors = header.setup_sects == 0 ? 4 : header.setup_sects;
  assert_int_equal(image.kernelOffset, (setupSectors + 1) * kSectorSize);
  assert_int_equal(image.kernelSize, kernelFile.size() - image.kernelOffset);
  assert_true(std::uint64_t{header.syssize} * 16 <= image.kernelSize);
  assert_int_equal(image.initSize, std::max<std::uint64_t>(header.init_size, image.kernelSize));
  assert_int_equal(image.cmdlineMax, header.cmdline_size);
  if (header.xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G) {
    assert_true(image.initrdEnd == UINT64_MAX);
  } else {
    assert_int_equal(image.initrdEnd, std::uint64_t{header.initrd_addr_max} + 1);
  }
}

// payload_offset is relative to the protected-mode code, so finding the compressed kernel's
// magic there confirms kernelOffset independently of the parser.
static void kernel_offset_leads_to_the_payload(void**) {
  const BzImage image = parsedKernel();
  std::size_t payload = image.kernelOffset + image.header.payload_offset;
  assert_true(image.header.payload_length <= image.kernelSize - image.header.payload_offset);
  bool known = startsWith(kernelFile, payload, {0x1f, 0x8b}) ||                      // gzip
               startsWith(kernelFile, payload, {'B', 'Z', 'h'}) ||                   // bzip2
               startsWith(kernelFile, payload, {0x5d, 0x00, 0x00}) ||                // lzma
               startsWith(kernelFile, payload, {0xfd, '7', 'z', 'X', 'Z', 0x00}) ||  // xz
               startsWith(kernelFile, payload, {0x89, 'L', 'Z', 'O'}) ||             // lzo
               startsWith(kernelFile, payload, {0x02, 0x21, 0x4c, 0x18}) ||          // lz4
               startsWith(kernelFile, payload, {0x28, 0xb5, 0x2f, 0xfd}) ||          // zstd
               startsWith(kernelFile, payload, {0x7f, 'E', 'L', 'F'});               // none
  assert_true(known);
}

// The VMM's decompression of the real payload gives the build's own vmlinux: every loadable
// segment byte for byte, and the same entry. The payload's vmlinux is stripped (objcopy -S), so
// the comparison is by segment, not by file. Needs TANDEM_GUEST_VMLINUX (scripts/test.sh sets
// it beside TANDEM_GUEST_KERNEL); without it, the payload is still checked to be an ELF kernel.
static void payload_decompresses_to_the_builds_vmlinux(void**) {
  const BzImage image = parsedKernel();
  auto payload = bzImagePayload(image, kernelFile, kernelPath);
  assert_true(payload.ok());
  if (!hostCanDecompress(payloadFormat(*payload))) {
    skip();
  }
  auto decompressed = decompressPayload(*payload, image.initSize, kernelPath);
  if (!decompressed.ok()) {
    fail_msg("%s", decompressed.error().describe().c_str());
  }
  auto fromPayload = parseElfKernel(decompressed->bytes(), kernelPath + " payload");
  assert_true(fromPayload.ok());
  assert_true(fromPayload->lowestAddress >= image.header.pref_address);
  assert_true(fromPayload->highestAddress <= image.header.pref_address + image.initSize);

  const char* vmlinuxPath = std::getenv("TANDEM_GUEST_VMLINUX");
  if (vmlinuxPath == nullptr || *vmlinuxPath == '\0') {
    return;
  }
  auto vmlinuxFile = tandem::readFile(vmlinuxPath);
  assert_true(vmlinuxFile.ok());
  std::span<const std::uint8_t> built(reinterpret_cast<const std::uint8_t*>(vmlinuxFile->data()),
                                      vmlinuxFile->size());
  auto fromBuild = parseElfKernel(built, vmlinuxPath);
  assert_true(fromBuild.ok());
  assert_int_equal(fromPayload->entry, fromBuild->entry);
  assert_int_equal(fromPayload->segments.size(), fromBuild->segments.size());
  for (std::size_t i = 0; i < fromBuild->segments.size(); ++i) {
    const auto& ours = fromPayload->segments[i];
    const auto& theirs = fromBuild->segments[i];
    assert_int_equal(ours.guestAddress, theirs.guestAddress);
    assert_int_equal(ours.fileSize, theirs.fileSize);
    assert_int_equal(ours.memorySize, theirs.memorySize);
    assert_memory_equal(decompressed->bytes().data() + ours.fileOffset,
                        built.data() + theirs.fileOffset, ours.fileSize);
  }
}

static void rejects_the_file_cut_short(void**) {
  const BzImage image = parsedKernel();
  const std::size_t headerEnd = 0x202 + kernelFile[0x201];
  const std::size_t cuts[] = {0,
                              0x100,
                              0x205,
                              headerEnd,
                              headerEnd + 1,
                              image.kernelOffset,
                              image.kernelOffset + image.kernelSize / 2};
  for (std::size_t cut : cuts) {
    std::vector<std::uint8_t> prefix(kernelFile.begin(),
                                     kernelFile.begin() + static_cast<long>(cut));
    auto truncated = parseBzImage(prefix, kernelPath);
    assert_false(truncated.ok());
    assert_non_null(strstr(truncated.error().message().c_str(), kernelPath.c_str()));
  }
}

int main() {
  for (const char* variable : {"TANDEM_TEST_BZIMAGE", "TANDEM_GUEST_KERNEL"}) {
    const char* value = std::getenv(variable);
    if (value != nullptr && *value != '\0') {
      kernelPath = value;
      break;
    }
  }
  if (kernelPath.empty()) {
    std::printf(
        "no kernel to parse: configure with -Dguest_kernel=<bzImage> or set "
        "TANDEM_TEST_BZIMAGE\n");
    return 77;
  }
  // Named but unreadable is a broken setup, not a reason to skip.
  auto contents = tandem::readFile(kernelPath);
  if (!contents.ok()) {
    std::fprintf(stderr, "%s\n", contents.error().describe().c_str());
    return 1;
  }
  kernelFile.assign(contents->begin(), contents->end());

  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses),
      cmocka_unit_test(kernel_offset_leads_to_the_payload),
      cmocka_unit_test(payload_decompresses_to_the_builds_vmlinux),
      cmocka_unit_test(rejects_the_file_cut_short),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

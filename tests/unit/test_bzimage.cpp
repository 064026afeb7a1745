#include "vmm/bzimage.h"

#include <elf.h>

#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/synthetic_bzimage.h"
#include "tests/unit/unit_test.h"

using tandem::vmm::BzImage;
using tandem::vmm::parseBzImage;

namespace {

const std::string kPath = "/images/kernel-under-test";

constexpr std::size_t kKernelBytes = 0x1000;

setup_header headerOf(const std::vector<std::uint8_t>& file) {
  setup_header header;
  std::memcpy(&header, file.data() + kSetupHeaderOffset, sizeof(header));
  return header;
}

void setHeader(std::vector<std::uint8_t>& file, const setup_header& header) {
  std::memcpy(file.data() + kSetupHeaderOffset, &header, sizeof(header));
}

// A bzImage as the kernel's build lays it out, with `setupSects` setup sectors.
std::vector<std::uint8_t> bzImage(std::uint8_t setupSects = 8) {
  return syntheticBzImage(syntheticSetupHeader(setupSects, kKernelBytes), kKernelBytes);
}

BzImage parsed(const std::vector<std::uint8_t>& file) {
  auto image = parseBzImage(file, kPath);
  if (!image.ok()) {
    fail_msg("%s", image.error().message().c_str());
  }
  return *image;
}

// Every rejection names the file and says why, with ENOEXEC.
void expectRejected(const std::vector<std::uint8_t>& file, const char* why) {
  auto image = parseBzImage(file, kPath);
  assert_false(image.ok());
  assert_int_equal(image.error().errnum(), ENOEXEC);
  const std::string& message = image.error().message();
  assert_non_null(strstr(message.c_str(), kPath.c_str()));
  if (strstr(message.c_str(), why) == nullptr) {
    fail_msg("expected \"%s\" in: %s", why, message.c_str());
  }
}

}  // namespace

static void reads_the_layout_and_limits(void**) {
  const auto file = bzImage();
  const BzImage image = parsed(file);
  assert_int_equal(image.kernelOffset, 9 * kSectorSize);
  assert_int_equal(image.kernelSize, kKernelBytes);
  assert_int_equal(image.initSize, 0x20000);
  assert_int_equal(image.cmdlineMax, 2047);
  assert_true(image.initrdEnd == UINT64_MAX);
}

static void copies_the_setup_header_verbatim(void**) {
  const auto file = bzImage();
  const BzImage image = parsed(file);
  assert_memory_equal(&image.header, file.data() + kSetupHeaderOffset, sizeof(setup_header));
  assert_int_equal(image.header.version, 0x020f);
  assert_int_equal(image.header.kernel_alignment, 0x200000);
  assert_true(image.header.pref_address == 0x1000000);
  assert_int_equal(image.header.kernel_info_offset, 0x4d0);
}

static void initrd_end_follows_initrd_addr_max_without_above_4g(void**) {
  auto file = bzImage();
  setup_header header = headerOf(file);
  header.xloadflags = XLF_KERNEL_64;
  setHeader(file, header);
  assert_true(parsed(file).initrdEnd == 0x80000000);
}

static void init_size_is_at_least_the_kernel(void**) {
  auto file = bzImage();
  setup_header header = headerOf(file);
  header.init_size = 0x100;
  setHeader(file, header);
  assert_int_equal(parsed(file).initSize, kKernelBytes);
}

// Bytes after the declared syssize (a signature, padding) still belong to the kernel.
static void kernel_size_is_the_rest_of_the_file(void**) {
  auto file = bzImage();
  file.resize(file.size() + 100, 0xcc);
  assert_int_equal(parsed(file).kernelSize, kKernelBytes + 100);
}

// Boot protocol: "if setup_sects is 0, the real value is 4".
static void zero_setup_sects_means_four(void**) {
  const auto file = bzImage(0);
  const BzImage image = parsed(file);
  assert_int_equal(image.kernelOffset, 5 * kSectorSize);
  assert_int_equal(image.kernelSize, kKernelBytes);
  assert_int_equal(file[image.kernelOffset], 1);
}

// An older, shorter header: fields it does not define must read as zero, not as whatever the
// setup code that follows it holds.
static void fields_past_the_header_length_are_zero(void**) {
  auto file = bzImage();
  constexpr std::size_t kEndAfterInitSize =
      kSetupHeaderOffset + offsetof(setup_header, init_size) + 4;
  file[0x201] = static_cast<std::uint8_t>(kEndAfterInitSize - 0x202);
  const BzImage image = parsed(file);
  assert_int_equal(image.header.init_size, 0x20000);
  assert_int_equal(image.header.handover_offset, 0);
  assert_int_equal(image.header.kernel_info_offset, 0);
}

static void accepts_protocol_2_12(void**) {
  auto file = bzImage();
  setup_header header = headerOf(file);
  header.version = 0x020c;
  setHeader(file, header);
  assert_int_equal(parsed(file).header.version, 0x020c);
}

static void rejects_protocol_older_than_2_12(void**) {
  auto file = bzImage();
  setup_header header = headerOf(file);
  header.version = 0x020b;
  setHeader(file, header);
  expectRejected(file, "2.11");
}

static void rejects_a_kernel_without_64_bit_entry(void**) {
  auto file = bzImage();
  setup_header header = headerOf(file);
  header.xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G;
  setHeader(file, header);
  expectRejected(file, "XLF_KERNEL_64");
}

static void rejects_syssize_beyond_the_file(void**) {
  auto file = bzImage();
  setup_header header = headerOf(file);
  header.syssize = kKernelBytes / 16 + 1;
  setHeader(file, header);
  expectRejected(file, "declares");
}

static void rejects_a_header_too_short_for_init_size(void**) {
  auto file = bzImage();
  file[0x201] = 0x20;
  expectRejected(file, "setup header is truncated");
}

static void rejects_truncated_files(void**) {
  const auto file = bzImage();
  const std::size_t kernelOffset = kernelOffsetFor(8);
  struct Cut {
    std::size_t length;
    const char* why;
  };
  const Cut cuts[] = {
      {0, "too short"},
      {0x100, "too short"},
      {0x205, "too short"},
      // The magic survives but the version does not.
      {0x206, "older than 2.12"},
      {0x230, "setup header is truncated"},
      {kHeaderEnd, "should start at byte"},
      {kernelOffset - 1, "should start at byte"},
      {kernelOffset, "should start at byte"},
      {kernelOffset + kKernelBytes / 2, "declares"},
      {file.size() - 1, "declares"},
  };
  for (const Cut& cut : cuts) {
    expectRejected(std::vector<std::uint8_t>(file.begin(), file.begin() + cut.length), cut.why);
  }
}

static void rejects_garbage(void**) {
  constexpr std::size_t kSize = 64 * 1024;
  std::mt19937 random(1234);
  std::vector<std::uint8_t> noise(kSize);
  for (auto& byte : noise) {
    byte = static_cast<std::uint8_t>(random());
  }
  expectRejected(noise, "signature");

  expectRejected(std::vector<std::uint8_t>(kSize, 0), "signature");

  // An ELF vmlinux handed to the bzImage parser.
  std::vector<std::uint8_t> elf(kSize, 0);
  Elf64_Ehdr header{};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = ELFCLASS64;
  header.e_ident[EI_DATA] = ELFDATA2LSB;
  header.e_machine = EM_X86_64;
  header.e_phoff = sizeof(header);
  std::memcpy(elf.data(), &header, sizeof(header));
  expectRejected(elf, "signature");

  // A boot sector signature without the "HdrS" magic: a pre-2.00 zImage.
  auto zImage = bzImage();
  zImage[0x202] = 'X';
  expectRejected(zImage, "signature");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(reads_the_layout_and_limits),
      cmocka_unit_test(copies_the_setup_header_verbatim),
      cmocka_unit_test(initrd_end_follows_initrd_addr_max_without_above_4g),
      cmocka_unit_test(init_size_is_at_least_the_kernel),
      cmocka_unit_test(kernel_size_is_the_rest_of_the_file),
      cmocka_unit_test(zero_setup_sects_means_four),
      cmocka_unit_test(fields_past_the_header_length_are_zero),
      cmocka_unit_test(accepts_protocol_2_12),
      cmocka_unit_test(rejects_protocol_older_than_2_12),
      cmocka_unit_test(rejects_a_kernel_without_64_bit_entry),
      cmocka_unit_test(rejects_syssize_beyond_the_file),
      cmocka_unit_test(rejects_a_header_too_short_for_init_size),
      cmocka_unit_test(rejects_truncated_files),
      cmocka_unit_test(rejects_garbage),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

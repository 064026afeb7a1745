#include "vmm/linux_boot.h"

#include <vector>

#include "tests/unit/unit_test.h"
#include "vmm/x86_layout.h"

using tandem::vmm::BootParamsInput;
using tandem::vmm::buildBootParams;
using tandem::vmm::BzImage;
using tandem::vmm::E820Entry;
using tandem::vmm::E820Type;
using tandem::vmm::InitrdPlacement;
using tandem::vmm::placeInitrd;
namespace x86 = tandem::x86;

namespace {

constexpr std::uint64_t kMiB = 1ull << 20;
constexpr std::uint64_t kGiB = 1ull << 30;
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kNoInitrdLimit = UINT64_MAX;

InitrdPlacement placed(std::uint64_t size, std::uint64_t memory, std::uint64_t lowest,
                       std::uint64_t initrdEnd) {
  auto placement = placeInitrd(size, memory, lowest, initrdEnd);
  if (!placement.ok()) {
    fail_msg("%s", placement.error().message().c_str());
  }
  assert_int_equal(placement->size, size);
  return *placement;
}

// The boot protocol's "as high as possible": page-aligned, ending at or below `end`, and one
// page higher would not fit.
void expectHighestBelow(const InitrdPlacement& placement, std::uint64_t end) {
  assert_int_equal(placement.address % kPage, 0);
  assert_true(placement.address + placement.size <= end);
  assert_true(placement.address + kPage + placement.size > end);
}

void expectDoesNotFit(std::uint64_t size, std::uint64_t memory, std::uint64_t lowest,
                      std::uint64_t initrdEnd) {
  auto placement = placeInitrd(size, memory, lowest, initrdEnd);
  assert_false(placement.ok());
  assert_int_equal(placement.error().errnum(), ENOMEM);
  assert_non_null(strstr(placement.error().message().c_str(), "--memory"));
}

BzImage image() {
  BzImage image;
  image.header.setup_sects = 27;
  image.header.syssize = 0x7d820;
  image.header.boot_flag = 0xaa55;
  image.header.jump = 0x6aeb;
  image.header.header = 0x53726448;
  image.header.version = 0x020f;
  image.header.loadflags = LOADED_HIGH | QUIET_FLAG;
  image.header.code32_start = 0x100000;
  image.header.initrd_addr_max = 0x7fffffff;
  image.header.kernel_alignment = 0x200000;
  image.header.relocatable_kernel = 1;
  image.header.min_alignment = 21;
  image.header.xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
  image.header.cmdline_size = 2047;
  image.header.payload_offset = 0x2cc;
  image.header.payload_length = 0x7bf070;
  image.header.pref_address = 0x1000000;
  image.header.init_size = 0x3f98000;
  image.header.handover_offset = 0x190;
  image.header.kernel_info_offset = 0x7c8db0;
  image.kernelOffset = 28 * 512;
  image.kernelSize = 0x7d8200;
  image.initSize = 0x3f98000;
  image.cmdlineMax = 2047;
  image.initrdEnd = kNoInitrdLimit;
  return image;
}

BootParamsInput input() {
  BootParamsInput input;
  input.cmdlineAddress = x86::kCmdlineAddress;
  input.cmdlineLength = 100;
  input.initrd = {0x0ff00000, 0x123456};
  input.e820 = {{0, x86::kLowMemoryEnd, E820Type::kRam},
                {x86::kEbdaAddress, 0x400, E820Type::kReserved},
                {x86::kHighMemoryStart, 255 * kMiB, E820Type::kRam}};
  return input;
}

boot_params built(const BzImage& kernel, const BootParamsInput& in) {
  auto params = buildBootParams(kernel, in);
  if (!params.ok()) {
    fail_msg("%s", params.error().message().c_str());
  }
  return *params;
}

}  // namespace

static void initrd_goes_to_the_top_of_ram(void**) {
  const std::uint64_t size = 10 * kMiB + 123;
  InitrdPlacement placement = placed(size, 256 * kMiB, 0x4100000, kNoInitrdLimit);
  expectHighestBelow(placement, 256 * kMiB);
}

static void initrd_respects_the_kernels_limit(void**) {
  const std::uint64_t size = 3 * kMiB + 5;
  InitrdPlacement placement = placed(size, 4 * kGiB, 0x4100000, 0x80000000);
  expectHighestBelow(placement, 0x80000000);
}

// With more than 3.25 GiB of RAM the top of memory is above 4 GiB, but the 64-bit boot
// protocol still addresses the initrd through the low memslot.
static void initrd_stays_below_the_mmio_hole(void**) {
  const std::uint64_t size = 7 * kMiB + 1;
  InitrdPlacement placement = placed(size, 8 * kGiB, 0x4100000, kNoInitrdLimit);
  expectHighestBelow(placement, x86::kMmioHoleStart);
}

// An unaligned limit (initrd_addr_max is "the highest byte", so its end need not be a page).
static void initrd_below_an_unaligned_limit(void**) {
  InitrdPlacement placement = placed(kPage, 4 * kGiB, 0x4100000, 0x7ffff801);
  assert_int_equal(placement.address, 0x7fffe000);
}

static void initrd_may_fill_everything_above_the_kernel(void**) {
  const std::uint64_t lowest = 0x4100000;
  InitrdPlacement placement = placed(256 * kMiB - lowest, 256 * kMiB, lowest, kNoInitrdLimit);
  assert_int_equal(placement.address, lowest);
}

static void initrd_must_not_overlap_the_kernel(void**) {
  const std::uint64_t lowest = 0x4100000;
  expectDoesNotFit(256 * kMiB - lowest + 1, 256 * kMiB, lowest, kNoInitrdLimit);
  // The kernel's end is rounded up to a page: the initrd never shares the kernel's last page.
  expectDoesNotFit(256 * kMiB - lowest, 256 * kMiB, lowest + 1, kNoInitrdLimit);
}

static void initrd_larger_than_memory(void**) {
  expectDoesNotFit(300 * kMiB, 256 * kMiB, 0, kNoInitrdLimit);
  expectDoesNotFit(x86::kMmioHoleStart + 1, 8 * kGiB, 0, kNoInitrdLimit);
  expectDoesNotFit(0x80000001, 4 * kGiB, 0, 0x80000000);
}

static void boot_params_keep_the_kernels_header(void**) {
  const BzImage kernel = image();
  const boot_params params = built(kernel, input());
  // Everything but the fields a boot loader owns comes from the image.
  setup_header expected = kernel.header;
  expected.type_of_loader = 0xff;
  expected.loadflags = LOADED_HIGH | QUIET_FLAG | CAN_USE_HEAP;
  expected.heap_end_ptr = 0xfe00;
  expected.vid_mode = 0xffff;
  expected.cmd_line_ptr = x86::kCmdlineAddress;
  expected.ramdisk_image = 0x0ff00000;
  expected.ramdisk_size = 0x123456;
  assert_memory_equal(&params.hdr, &expected, sizeof(expected));
}

static void boot_params_fill_in_the_loader_fields(void**) {
  const boot_params params = built(image(), input());
  assert_int_equal(params.hdr.type_of_loader, 0xff);
  assert_int_equal(params.hdr.loadflags & CAN_USE_HEAP, CAN_USE_HEAP);
  assert_int_equal(params.hdr.heap_end_ptr, 0xfe00);
  assert_int_equal(params.hdr.vid_mode, 0xffff);
  assert_int_equal(params.hdr.cmd_line_ptr, x86::kCmdlineAddress);
  assert_int_equal(params.ext_cmd_line_ptr, 0);
  assert_int_equal(params.hdr.ramdisk_image, 0x0ff00000);
  assert_int_equal(params.ext_ramdisk_image, 0);
  assert_int_equal(params.hdr.ramdisk_size, 0x123456);
  assert_int_equal(params.ext_ramdisk_size, 0);
}

static void boot_params_copy_the_e820_map(void**) {
  const BootParamsInput in = input();
  const boot_params params = built(image(), in);
  assert_int_equal(params.e820_entries, in.e820.size());
  for (std::size_t i = 0; i < in.e820.size(); ++i) {
    assert_true(params.e820_table[i].addr == in.e820[i].address);
    assert_true(params.e820_table[i].size == in.e820[i].size);
    assert_int_equal(params.e820_table[i].type, static_cast<std::uint32_t>(in.e820[i].type));
  }
  boot_e820_entry unused{};
  for (std::size_t i = in.e820.size(); i < E820_MAX_ENTRIES_ZEROPAGE; ++i) {
    assert_memory_equal(&params.e820_table[i], &unused, sizeof(unused));
  }
}

// A stale byte anywhere else in the zero page is a field some kernel version reads.
static void boot_params_are_otherwise_zero(void**) {
  boot_params params = built(image(), input());
  params.hdr = {};
  params.ext_cmd_line_ptr = 0;
  params.ext_ramdisk_image = 0;
  params.ext_ramdisk_size = 0;
  params.e820_entries = 0;
  std::memset(params.e820_table, 0, sizeof(params.e820_table));
  const boot_params zero{};
  assert_memory_equal(&params, &zero, sizeof(zero));
}

// Boot protocol 2.12 / zero-page: ext_* carry bits 32-63 of the addresses and sizes.
static void boot_params_split_addresses_above_4g(void**) {
  BootParamsInput in = input();
  in.cmdlineAddress = 0x123456000;
  in.initrd = {0x200001000, 0x100000002};
  const boot_params params = built(image(), in);
  assert_int_equal(params.hdr.cmd_line_ptr, 0x23456000);
  assert_int_equal(params.ext_cmd_line_ptr, 0x1);
  assert_int_equal(params.hdr.ramdisk_image, 0x00001000);
  assert_int_equal(params.ext_ramdisk_image, 0x2);
  assert_int_equal(params.hdr.ramdisk_size, 0x2);
  assert_int_equal(params.ext_ramdisk_size, 0x1);
}

static void boot_params_take_the_longest_command_line(void**) {
  BootParamsInput in = input();
  in.cmdlineLength = 2047;
  assert_true(buildBootParams(image(), in).ok());
}

static void boot_params_reject_a_too_long_command_line(void**) {
  BootParamsInput in = input();
  in.cmdlineLength = 2048;
  auto params = buildBootParams(image(), in);
  assert_false(params.ok());
  assert_int_equal(params.error().errnum(), E2BIG);
  assert_non_null(strstr(params.error().message().c_str(), "2047"));
}

static void boot_params_hold_at_most_128_e820_entries(void**) {
  BootParamsInput in = input();
  in.e820.assign(E820_MAX_ENTRIES_ZEROPAGE, E820Entry{kGiB, kMiB, E820Type::kRam});
  assert_int_equal(built(image(), in).e820_entries, E820_MAX_ENTRIES_ZEROPAGE);
  in.e820.push_back({});
  auto params = buildBootParams(image(), in);
  assert_false(params.ok());
  assert_int_equal(params.error().errnum(), E2BIG);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(initrd_goes_to_the_top_of_ram),
      cmocka_unit_test(initrd_respects_the_kernels_limit),
      cmocka_unit_test(initrd_stays_below_the_mmio_hole),
      cmocka_unit_test(initrd_below_an_unaligned_limit),
      cmocka_unit_test(initrd_may_fill_everything_above_the_kernel),
      cmocka_unit_test(initrd_must_not_overlap_the_kernel),
      cmocka_unit_test(initrd_larger_than_memory),
      cmocka_unit_test(boot_params_keep_the_kernels_header),
      cmocka_unit_test(boot_params_fill_in_the_loader_fields),
      cmocka_unit_test(boot_params_copy_the_e820_map),
      cmocka_unit_test(boot_params_are_otherwise_zero),
      cmocka_unit_test(boot_params_split_addresses_above_4g),
      cmocka_unit_test(boot_params_take_the_longest_command_line),
      cmocka_unit_test(boot_params_reject_a_too_long_command_line),
      cmocka_unit_test(boot_params_hold_at_most_128_e820_entries),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

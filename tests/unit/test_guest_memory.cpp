#include "vmm/guest_memory.h"

#include <vector>

#include "tests/unit/unit_test.h"
#include "vmm/e820.h"
#include "vmm/x86_layout.h"

using tandem::vmm::E820Entry;
using tandem::vmm::e820Map;
using tandem::vmm::E820Type;
using tandem::vmm::GuestMemory;
using tandem::vmm::GuestRegion;
using tandem::vmm::guestRegions;
namespace x86 = tandem::x86;

namespace {

constexpr std::uint64_t kMiB = 1ull << 20;
constexpr std::uint64_t kGiB = 1ull << 30;
constexpr std::uint64_t kHole = x86::kMmioHoleEnd - x86::kMmioHoleStart;

void expectRegion(const GuestRegion& region, std::uint64_t guestAddress, std::uint64_t size,
                  std::uint64_t hostOffset) {
  assert_true(region.guestAddress == guestAddress);
  assert_true(region.size == size);
  assert_true(region.hostOffset == hostOffset);
}

void expectEntry(const E820Entry& entry, std::uint64_t address, std::uint64_t size) {
  assert_true(entry.address == address);
  assert_true(entry.size == size);
  assert_true(entry.type == E820Type::kRam);
}

GuestMemory created(std::uint64_t bytes) {
  auto memory = GuestMemory::create(bytes, false);
  if (!memory.ok()) {
    fail_msg("%s", memory.error().describe().c_str());
  }
  return std::move(memory).value();
}

void expectOutside(const GuestMemory& memory, std::uint64_t address, std::uint64_t length) {
  auto slice = memory.slice(address, length);
  assert_false(slice.ok());
  assert_int_equal(slice.error().errnum(), EFAULT);
}

}  // namespace

static void small_memory_is_one_region(void**) {
  auto regions = guestRegions(256 * kMiB);
  assert_int_equal(regions.size(), 1);
  expectRegion(regions[0], 0, 256 * kMiB, 0);
}

static void memory_up_to_the_hole_is_one_region(void**) {
  auto regions = guestRegions(x86::kMmioHoleStart);
  assert_int_equal(regions.size(), 1);
  expectRegion(regions[0], 0, x86::kMmioHoleStart, 0);
}

// Above 3.25 GiB the rest moves to 4 GiB, and the host mapping stays contiguous.
static void large_memory_splits_around_the_hole(void**) {
  auto regions = guestRegions(4 * kGiB);
  assert_int_equal(regions.size(), 2);
  expectRegion(regions[0], 0, x86::kMmioHoleStart, 0);
  expectRegion(regions[1], 4 * kGiB, kHole, x86::kMmioHoleStart);

  regions = guestRegions(x86::kMmioHoleStart + 1);
  assert_int_equal(regions.size(), 2);
  expectRegion(regions[1], 4 * kGiB, 1, x86::kMmioHoleStart);
}

static void e820_leaves_out_the_ebda_and_legacy_hole(void**) {
  auto map = e820Map(256 * kMiB);
  assert_int_equal(map.size(), 2);
  expectEntry(map[0], 0, x86::kEbdaAddress);
  expectEntry(map[1], x86::kHighMemoryStart, 255 * kMiB);
}

static void e820_leaves_out_the_mmio_hole(void**) {
  auto map = e820Map(8 * kGiB);
  assert_int_equal(map.size(), 3);
  expectEntry(map[0], 0, x86::kEbdaAddress);
  expectEntry(map[1], x86::kHighMemoryStart, x86::kMmioHoleStart - x86::kHighMemoryStart);
  expectEntry(map[2], 4 * kGiB, 8 * kGiB - x86::kMmioHoleStart);
}

// The e820 map and the memslots must describe the same RAM, or the guest uses memory KVM does
// not back.
static void e820_ram_is_guest_memory(void**) {
  for (std::uint64_t bytes : {32 * kMiB, 3 * kGiB, x86::kMmioHoleStart, 4 * kGiB, 16 * kGiB}) {
    auto regions = guestRegions(bytes);
    for (const E820Entry& entry : e820Map(bytes)) {
      bool inside = false;
      for (const GuestRegion& region : regions) {
        inside |= entry.address >= region.guestAddress &&
                  entry.address + entry.size <= region.guestAddress + region.size;
      }
      assert_true(inside);
    }
  }
}

static void create_maps_the_regions(void**) {
  GuestMemory memory = created(64 * kMiB);
  assert_int_equal(memory.size(), 64 * kMiB);
  assert_non_null(memory.hostBase());
  assert_int_equal(memory.regions().size(), 1);
  expectRegion(memory.regions()[0], 0, 64 * kMiB, 0);
}

// MAP_NORESERVE: 4 GiB of guest RAM costs only the pages touched here.
static void create_splits_large_memory(void**) {
  GuestMemory memory = created(4 * kGiB);
  assert_true(memory.size() == 4 * kGiB);
  assert_int_equal(memory.regions().size(), 2);
  expectRegion(memory.regions()[1], 4 * kGiB, kHole, x86::kMmioHoleStart);
}

static void slice_points_into_the_host_mapping(void**) {
  GuestMemory memory = created(4 * kGiB);
  auto low = memory.slice(0x1000, 16);
  assert_true(low.ok());
  assert_ptr_equal(low->data(), memory.hostBase() + 0x1000);
  assert_int_equal(low->size(), 16);

  auto high = memory.slice(4 * kGiB + 0x2000, 8);
  assert_true(high.ok());
  assert_ptr_equal(high->data(), memory.hostBase() + x86::kMmioHoleStart + 0x2000);
}

static void slice_reaches_each_regions_last_byte(void**) {
  GuestMemory memory = created(4 * kGiB);
  assert_true(memory.slice(x86::kMmioHoleStart - 8, 8).ok());
  assert_true(memory.slice(4 * kGiB + kHole - 1, 1).ok());
  assert_true(memory.slice(4 * kGiB + kHole, 0).ok());
}

static void slice_rejects_ranges_outside_ram(void**) {
  GuestMemory memory = created(4 * kGiB);
  // Crossing a region's end, into the MMIO hole or past the top of RAM.
  expectOutside(memory, x86::kMmioHoleStart - 4, 8);
  expectOutside(memory, 4 * kGiB + kHole - 4, 8);
  // Inside the hole, and beyond everything.
  expectOutside(memory, x86::kMmioHoleStart, 1);
  expectOutside(memory, x86::kLapicAddress, 4);
  expectOutside(memory, 4 * kGiB + kHole, 1);
  expectOutside(memory, 64 * kGiB, 1);
  // Lengths that wrap around.
  expectOutside(memory, 0x1000, UINT64_MAX);
  expectOutside(memory, UINT64_MAX, 2);
}

static void slice_error_names_the_range(void**) {
  GuestMemory memory = created(64 * kMiB);
  auto slice = memory.slice(64 * kMiB - 4, 8);
  assert_false(slice.ok());
  assert_non_null(strstr(slice.error().message().c_str(), "0x3fffffc"));
  assert_non_null(strstr(slice.error().message().c_str(), "64 MiB"));
}

static void write_and_read_objects_in_both_regions(void**) {
  GuestMemory memory = created(4 * kGiB);
  assert_true(memory.writeObject<std::uint64_t>(0x7000, 0x1122334455667788).ok());
  assert_true(memory.writeObject<std::uint32_t>(4 * kGiB + 0x10, 0xdeadbeef).ok());

  auto low = memory.readObject<std::uint64_t>(0x7000);
  assert_true(low.ok());
  assert_true(*low == 0x1122334455667788);
  auto high = memory.readObject<std::uint32_t>(4 * kGiB + 0x10);
  assert_true(high.ok());
  assert_int_equal(*high, 0xdeadbeef);
  assert_int_equal(memory.hostBase()[x86::kMmioHoleStart + 0x10], 0xef);
}

static void write_copies_bytes(void**) {
  GuestMemory memory = created(32 * kMiB);
  const std::uint8_t bytes[] = {1, 2, 3, 4, 5};
  assert_true(memory.write(0x20000, bytes).ok());
  assert_memory_equal(memory.hostBase() + 0x20000, bytes, sizeof(bytes));
}

// A failed write must not write the part that fits.
static void write_across_the_end_fails_whole(void**) {
  GuestMemory memory = created(32 * kMiB);
  const std::uint8_t bytes[] = {1, 2, 3, 4, 5, 6, 7, 8};
  auto status = memory.write(32 * kMiB - 4, bytes);
  assert_false(status.ok());
  assert_int_equal(status.error().errnum(), EFAULT);
  const std::uint8_t untouched[4] = {};
  assert_memory_equal(memory.hostBase() + 32 * kMiB - 4, untouched, sizeof(untouched));

  assert_false(memory.writeObject<std::uint64_t>(x86::kMmioHoleStart, 1).ok());
}

static void read_across_the_end_fails(void**) {
  GuestMemory memory = created(4 * kGiB);
  assert_false(memory.readObject<std::uint64_t>(x86::kMmioHoleStart - 4).ok());
  assert_false(memory.readObject<std::uint64_t>(4 * kGiB + kHole - 7).ok());
  assert_true(memory.readObject<std::uint64_t>(4 * kGiB + kHole - 8).ok());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(small_memory_is_one_region),
      cmocka_unit_test(memory_up_to_the_hole_is_one_region),
      cmocka_unit_test(large_memory_splits_around_the_hole),
      cmocka_unit_test(e820_leaves_out_the_ebda_and_legacy_hole),
      cmocka_unit_test(e820_leaves_out_the_mmio_hole),
      cmocka_unit_test(e820_ram_is_guest_memory),
      cmocka_unit_test(create_maps_the_regions),
      cmocka_unit_test(create_splits_large_memory),
      cmocka_unit_test(slice_points_into_the_host_mapping),
      cmocka_unit_test(slice_reaches_each_regions_last_byte),
      cmocka_unit_test(slice_rejects_ranges_outside_ram),
      cmocka_unit_test(slice_error_names_the_range),
      cmocka_unit_test(write_and_read_objects_in_both_regions),
      cmocka_unit_test(write_copies_bytes),
      cmocka_unit_test(write_across_the_end_fails_whole),
      cmocka_unit_test(read_across_the_end_fails),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

#include "vmm/pvh.h"

#include <cstring>
#include <vector>

#include "tests/unit/unit_test.h"
#include "vmm/x86_layout.h"

using tandem::vmm::e820Map;
using tandem::vmm::E820Type;
using tandem::vmm::GuestMemory;
using tandem::vmm::InitrdPlacement;
using tandem::vmm::writePvhStartInfo;
namespace x86 = tandem::x86;

namespace {

// hvm_start_info version 1 (xen/include/public/arch-x86/hvm/start_info.h), by offset, so the
// test does not share the implementation's struct.
namespace start_info {
constexpr std::uint64_t kMagic = 0, kVersion = 4, kFlags = 8, kModuleCount = 12;
constexpr std::uint64_t kModuleList = 16, kCmdline = 24, kRsdp = 32, kMemmap = 40;
constexpr std::uint64_t kMemmapEntries = 48, kReserved = 52;
constexpr std::uint64_t kModuleSize = 32, kMemmapEntrySize = 24;
}  // namespace start_info

GuestMemory created(std::uint64_t bytes) {
  auto memory = GuestMemory::create(bytes, false);
  if (!memory.ok()) {
    fail_msg("%s", memory.error().describe().c_str());
  }
  return std::move(memory).value();
}

template <class T>
T at(const GuestMemory& memory, std::uint64_t address) {
  auto value = memory.readObject<T>(address);
  assert_true(value.ok());
  return *value;
}

// Stale bytes under the start info would show through any field left unwritten.
void dirtyStartInfoArea(const GuestMemory& memory) {
  std::memset(memory.hostBase() + x86::kPvhInfoAddress, 0xaa,
              x86::kBootParamsAddress - x86::kPvhInfoAddress);
}

}  // namespace

static void start_info_with_an_initrd(void**) {
  GuestMemory memory = created(64ull << 20);
  dirtyStartInfoArea(memory);
  const auto e820 = e820Map(memory.size());
  assert_true(writePvhStartInfo(memory, x86::kCmdlineAddress, {0x3000000, 0x12345}, e820).ok());

  const std::uint64_t info = x86::kPvhInfoAddress;
  assert_int_equal(at<std::uint32_t>(memory, info + start_info::kMagic), 0x336ec578);
  assert_int_equal(at<std::uint32_t>(memory, info + start_info::kVersion), 1);
  assert_int_equal(at<std::uint32_t>(memory, info + start_info::kFlags), 0);
  assert_int_equal(at<std::uint32_t>(memory, info + start_info::kModuleCount), 1);
  assert_int_equal(at<std::uint64_t>(memory, info + start_info::kModuleList),
                   x86::kPvhModuleAddress);
  assert_int_equal(at<std::uint64_t>(memory, info + start_info::kCmdline), x86::kCmdlineAddress);
  assert_int_equal(at<std::uint64_t>(memory, info + start_info::kRsdp), 0);
  assert_int_equal(at<std::uint64_t>(memory, info + start_info::kMemmap), x86::kPvhMemmapAddress);
  assert_int_equal(at<std::uint32_t>(memory, info + start_info::kMemmapEntries), e820.size());
  assert_int_equal(at<std::uint32_t>(memory, info + start_info::kReserved), 0);

  const std::uint64_t module = x86::kPvhModuleAddress;
  assert_int_equal(at<std::uint64_t>(memory, module), 0x3000000);
  assert_int_equal(at<std::uint64_t>(memory, module + 8), 0x12345);
  assert_int_equal(at<std::uint64_t>(memory, module + 16), 0);
  assert_int_equal(at<std::uint64_t>(memory, module + 24), 0);
  assert_true(module + start_info::kModuleSize <= x86::kPvhMemmapAddress);

  for (std::size_t i = 0; i < e820.size(); ++i) {
    const std::uint64_t entry = x86::kPvhMemmapAddress + i * start_info::kMemmapEntrySize;
    assert_int_equal(at<std::uint64_t>(memory, entry), e820[i].address);
    assert_int_equal(at<std::uint64_t>(memory, entry + 8), e820[i].size);
    assert_int_equal(at<std::uint32_t>(memory, entry + 16),
                     static_cast<std::uint32_t>(e820[i].type));
    assert_int_equal(at<std::uint32_t>(memory, entry + 20), 0);
  }
}

static void start_info_without_an_initrd(void**) {
  GuestMemory memory = created(64ull << 20);
  dirtyStartInfoArea(memory);
  assert_true(writePvhStartInfo(memory, x86::kCmdlineAddress, {}, e820Map(memory.size())).ok());
  assert_int_equal(at<std::uint32_t>(memory, x86::kPvhInfoAddress + start_info::kModuleCount), 0);
  assert_int_equal(at<std::uint64_t>(memory, x86::kPvhInfoAddress + start_info::kModuleList), 0);
}

static void start_info_memmap_stops_before_boot_params(void**) {
  GuestMemory memory = created(64ull << 20);
  memory.hostBase()[x86::kBootParamsAddress] = 0x5a;
  std::vector<tandem::vmm::E820Entry> e820(x86::kPvhMemmapMaxEntries,
                                           {0x100000000, 0x1000, E820Type::kReserved});
  assert_true(writePvhStartInfo(memory, 0, {}, e820).ok());
  const std::uint64_t last =
      x86::kPvhMemmapAddress + (e820.size() - 1) * start_info::kMemmapEntrySize;
  assert_int_equal(at<std::uint32_t>(memory, last + 16), 2);
  assert_int_equal(memory.hostBase()[x86::kBootParamsAddress], 0x5a);

  e820.push_back({});
  auto status = writePvhStartInfo(memory, 0, {}, e820);
  assert_false(status.ok());
  assert_int_equal(status.error().errnum(), E2BIG);
}

static void start_info_needs_its_memory(void**) {
  GuestMemory memory = created(x86::kPvhInfoAddress);
  assert_false(writePvhStartInfo(memory, 0, {0x3000000, 1}, e820Map(64ull << 20)).ok());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(start_info_with_an_initrd),
      cmocka_unit_test(start_info_without_an_initrd),
      cmocka_unit_test(start_info_memmap_stops_before_boot_params),
      cmocka_unit_test(start_info_needs_its_memory),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

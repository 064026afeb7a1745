#include "vmm/kernel_loader.h"

#include <asm/bootparam.h>

#include <string>
#include <vector>

#include "tests/unit/synthetic_bzimage.h"
#include "tests/unit/unit_test.h"
#include "vmm/x86_layout.h"

using tandem::vmm::BootEntry;
using tandem::vmm::bootGdt;
using tandem::vmm::EntryMode;
using tandem::vmm::GuestMemory;
using tandem::vmm::KernelImage;
using tandem::vmm::loadLinux;
namespace x86 = tandem::x86;

namespace {

constexpr std::uint64_t kMiB = 1ull << 20;
constexpr std::size_t kSetupSects = 4;
constexpr std::size_t kKernelOffset = (kSetupSects + 1) * kSectorSize;
constexpr std::size_t kKernelBytes = 0x1000;
// CONFIG_PHYSICAL_START, which tandem's guest kernel and Debian's both keep at 16 MiB.
constexpr std::uint64_t kPrefAddress = 16 * kMiB;

// A non-relocatable bzImage, as tandem's guest kernel config builds it.
std::vector<std::uint8_t> bzImage(std::uint32_t initSize) {
  setup_header header = syntheticSetupHeader(kSetupSects, kKernelBytes);
  header.relocatable_kernel = 0;
  header.xloadflags = XLF_KERNEL_64;
  header.pref_address = kPrefAddress;
  header.init_size = initSize;
  return syntheticBzImage(header, kKernelBytes);
}

GuestMemory created(std::uint64_t bytes) {
  auto memory = GuestMemory::create(bytes, false);
  if (!memory.ok()) {
    fail_msg("%s", memory.error().describe().c_str());
  }
  return std::move(memory).value();
}

boot_params zeroPage(const GuestMemory& memory) {
  auto params = memory.readObject<boot_params>(x86::kBootParamsAddress);
  assert_true(params.ok());
  return *params;
}

}  // namespace

static void loads_a_bzimage(void**) {
  GuestMemory memory = created(64 * kMiB);
  const auto file = bzImage(8 * kMiB);
  const std::vector<std::uint8_t> initrd(kMiB + 5, 0x42);
  auto entry = loadLinux(memory, {"/kernel", file}, initrd, "console=ttyS1");
  if (!entry.ok()) {
    fail_msg("%s", entry.error().message().c_str());
  }
  assert_true(entry->mode == EntryMode::kLongMode64);
  assert_int_equal(entry->entry, x86::kKernelLoadAddress + 0x200);
  assert_int_equal(entry->bootInfoAddress, x86::kBootParamsAddress);

  assert_memory_equal(memory.hostBase() + x86::kKernelLoadAddress, file.data() + kKernelOffset,
                      kKernelBytes);
  assert_string_equal(reinterpret_cast<const char*>(memory.hostBase() + x86::kCmdlineAddress),
                      "console=ttyS1");
  const boot_params params = zeroPage(memory);
  assert_int_equal(params.hdr.cmd_line_ptr, x86::kCmdlineAddress);
  assert_int_equal(params.hdr.ramdisk_size, initrd.size());
  assert_memory_equal(memory.hostBase() + params.hdr.ramdisk_image, initrd.data(), initrd.size());
  assert_int_equal(params.e820_entries, 2);
  auto gdt = bootGdt(EntryMode::kLongMode64);
  assert_memory_equal(memory.hostBase() + x86::kGdtAddress, gdt.data(), sizeof(gdt));
}

// Boot protocol, init_size: memory "starting at the kernel runtime start address", which for
// a kernel loaded at 1 MiB is pref_address (rounded up to kernel_alignment when relocatable),
// not the load address. The decompressor writes all of [16 MiB, 16 MiB + init_size), so an
// initrd there is overwritten before the kernel ever reads it.
static void initrd_stays_clear_of_the_decompressed_kernel(void**) {
  GuestMemory memory = created(48 * kMiB);
  const std::vector<std::uint8_t> initrd(24 * kMiB, 0x42);
  auto entry = loadLinux(memory, {"/kernel", bzImage(12 * kMiB)}, initrd, "");
  if (entry.ok()) {
    const boot_params params = zeroPage(memory);
    fail_msg("initrd placed at %#x, inside the kernel's [%#llx, %#llx)", params.hdr.ramdisk_image,
             static_cast<unsigned long long>(kPrefAddress),
             static_cast<unsigned long long>(kPrefAddress + 12 * kMiB));
  }
}

static void kernel_needs_memory_from_its_runtime_address(void**) {
  GuestMemory memory = created(32 * kMiB);
  auto entry = loadLinux(memory, {"/kernel", bzImage(20 * kMiB)}, {}, "");
  assert_false(entry.ok());
  assert_int_equal(entry.error().errnum(), ENOMEM);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(loads_a_bzimage),
      cmocka_unit_test(initrd_stays_clear_of_the_decompressed_kernel),
      cmocka_unit_test(kernel_needs_memory_from_its_runtime_address),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

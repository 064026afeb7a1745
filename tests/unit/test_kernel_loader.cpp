#include "vmm/kernel_loader.h"

#include <asm/bootparam.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/unit/kernel_payloads.h"
#include "tests/unit/synthetic_bzimage.h"
#include "tests/unit/synthetic_vmlinux.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"
#include "vmm/x86_layout.h"

using tandem::vmm::BootEntry;
using tandem::vmm::bootGdt;
using tandem::vmm::BytesInitrd;
using tandem::vmm::EntryMode;
using tandem::vmm::GuestMemory;
using tandem::vmm::KernelFileIdentity;
using tandem::vmm::KernelImage;
using tandem::vmm::loadLinux;
using tandem::vmm::VmlinuxCache;
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

// A bzImage as Linux builds it with CONFIG_KERNEL_LZ4: a decompressor stub, then `payload` at
// payload_offset, with an init_size that covers the synthetic vmlinux's segments from 16 MiB.
constexpr std::size_t kStubBytes = 0x400;
std::vector<std::uint8_t> bzImageWithPayload(const std::vector<std::uint8_t>& payload,
                                             std::uint32_t initSize = 0x1100000) {
  const std::size_t kernelBytes = kStubBytes + payload.size();
  setup_header header = syntheticSetupHeader(kSetupSects, kernelBytes);
  header.relocatable_kernel = 0;
  header.xloadflags = XLF_KERNEL_64;
  header.pref_address = kPrefAddress;
  header.init_size = initSize;
  header.payload_offset = kStubBytes;
  header.payload_length = static_cast<std::uint32_t>(payload.size());
  auto file = syntheticBzImage(header, kernelBytes);
  std::copy(payload.begin(), payload.end(), file.begin() + kKernelOffset + kStubBytes);
  return file;
}

// The synthetic vmlinux with recognisable segment contents.
std::vector<std::uint8_t> markedVmlinux() {
  auto file = vmlinux();
  for (std::size_t i = 0; i < 0x200; ++i) {
    file[kTextOffset + i] = static_cast<std::uint8_t>(0x90 + i);
  }
  for (std::size_t i = 0; i < 0x100; ++i) {
    file[kDataOffset + i] = static_cast<std::uint8_t>(0xd0 ^ i);
  }
  return file;
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
  auto entry = loadLinux(memory, {"/kernel", file}, BytesInitrd(initrd), "console=ttyS1");
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
  auto entry = loadLinux(memory, {"/kernel", bzImage(12 * kMiB)}, BytesInitrd(initrd), "");
  if (entry.ok()) {
    const boot_params params = zeroPage(memory);
    fail_msg("initrd placed at %#x, inside the kernel's [%#llx, %#llx)", params.hdr.ramdisk_image,
             static_cast<unsigned long long>(kPrefAddress),
             static_cast<unsigned long long>(kPrefAddress + 12 * kMiB));
  }
}

static void kernel_needs_memory_from_its_runtime_address(void**) {
  GuestMemory memory = created(32 * kMiB);
  auto entry = loadLinux(memory, {"/kernel", bzImage(20 * kMiB)}, BytesInitrd(), "");
  assert_false(entry.ok());
  assert_int_equal(entry.error().errnum(), ENOMEM);
}

// The VMM decompresses the payload and starts the kernel at its own 64-bit entry: the
// segments sit at their physical addresses, .bss is zero, and the decompressor stub never
// reaches guest memory.
static void boots_the_vmlinux_inside_a_bzimage(void**) {
  GuestMemory memory = created(64 * kMiB);
  // Stale bytes where .bss goes must not survive the load.
  std::memset(memory.hostBase() + 0x1000200, 0xee, 0x2e00);
  const auto elf = markedVmlinux();
  const auto file = bzImageWithPayload(lz4Legacy(elf));
  const std::vector<std::uint8_t> initrd(kMiB, 0x42);
  auto entry = loadLinux(memory, {"/kernel", file}, BytesInitrd(initrd), "console=ttyS1");
  if (!entry.ok()) {
    fail_msg("%s", entry.error().describe().c_str());
  }
  assert_true(entry->mode == EntryMode::kLongMode64);
  assert_int_equal(entry->entry, kElfEntry);
  assert_int_equal(entry->bootInfoAddress, x86::kBootParamsAddress);
  assert_memory_equal(memory.hostBase() + 0x1000000, elf.data() + kTextOffset, 0x200);
  assert_memory_equal(memory.hostBase() + 0x2000000, elf.data() + kDataOffset, 0x100);
  const std::vector<std::uint8_t> zeros(0x2e00, 0);
  assert_memory_equal(memory.hostBase() + 0x1000200, zeros.data(), zeros.size());
  const std::vector<std::uint8_t> nothing(kStubBytes, 0);
  assert_memory_equal(memory.hostBase() + x86::kKernelLoadAddress, nothing.data(), kStubBytes);

  const boot_params params = zeroPage(memory);
  assert_int_equal(params.hdr.payload_length, file.size() - kKernelOffset - kStubBytes);
  assert_true(params.hdr.ramdisk_image >= kPrefAddress + 0x1100000);
  assert_memory_equal(memory.hostBase() + params.hdr.ramdisk_image, initrd.data(), initrd.size());
}

// bzip2, lzma and lzo are left to the kernel's decompressor: the image loads as before.
static void other_compressions_boot_through_the_decompressor(void**) {
  GuestMemory memory = created(64 * kMiB);
  std::vector<std::uint8_t> bzip2 = {'B', 'Z', 'h', '9', 0x31, 0x41, 0x59, 0x26, 0, 0x10, 0, 0};
  const auto file = bzImageWithPayload(bzip2);
  auto entry = loadLinux(memory, {"/kernel", file}, BytesInitrd(), "");
  assert_true(entry.ok());
  assert_int_equal(entry->entry, x86::kKernelLoadAddress + 0x200);
  assert_memory_equal(memory.hostBase() + x86::kKernelLoadAddress, file.data() + kKernelOffset,
                      file.size() - kKernelOffset);
}

static void refuses_a_vmlinux_outside_its_reserved_range(void**) {
  GuestMemory memory = created(64 * kMiB);
  // init_size ends before the data segment at 32 MiB.
  auto entry =
      loadLinux(memory, {"/kernel", bzImageWithPayload(lz4Legacy(markedVmlinux()), 0x1000000)},
                BytesInitrd(), "");
  assert_false(entry.ok());
  assert_int_equal(entry.error().errnum(), ENOEXEC);
  assert_non_null(strstr(entry.error().message().c_str(), "outside the range"));

  auto elf = markedVmlinux();
  editHeader(elf, [](Elf64_Ehdr& h) { h.e_entry = 0x800000; });
  entry = loadLinux(memory, {"/kernel", bzImageWithPayload(lz4Legacy(elf))}, BytesInitrd(), "");
  assert_false(entry.ok());
  assert_non_null(strstr(entry.error().message().c_str(), "entry point"));
}

static void refuses_a_corrupt_payload(void**) {
  GuestMemory memory = created(64 * kMiB);
  auto payload = lz4Legacy(markedVmlinux());
  payload[payload.size() / 2] ^= 0xff;
  payload[payload.size() / 2 + 1] ^= 0xff;
  payload.resize(payload.size() - 12);
  appendLittleEndian32(payload, static_cast<std::uint32_t>(markedVmlinux().size()));
  auto entry = loadLinux(memory, {"/kernel", bzImageWithPayload(payload)}, BytesInitrd(), "");
  assert_false(entry.ok());
  assert_int_equal(entry.error().errnum(), ENOEXEC);
  assert_non_null(strstr(entry.error().message().c_str(), "/kernel"));
}

static void a_cached_vmlinux_boots_the_same(void** state) {
  VmlinuxCache cache(tempDir(state) + "/vmlinux");
  KernelFileIdentity identity{1, 2, 3, 4, 5};
  const auto file = bzImageWithPayload(lz4Legacy(markedVmlinux()));
  for (int boot = 0; boot < 2; ++boot) {
    GuestMemory memory = created(64 * kMiB);
    auto entry = loadLinux(memory, {"/kernel", file, &cache, identity}, BytesInitrd(), "");
    assert_true(entry.ok());
    assert_int_equal(entry->entry, kElfEntry);
    assert_memory_equal(memory.hostBase() + 0x1000000, markedVmlinux().data() + kTextOffset, 0x200);
  }
  assert_int_equal(::access(cache.entryPath(identity).c_str(), R_OK), 0);
}

// An ELF vmlinux given directly boots only through PVH, which needs the note.
static void a_vmlinux_without_the_pvh_note_is_refused(void**) {
  GuestMemory memory = created(64 * kMiB);
  auto entry = loadLinux(memory, {"/vmlinux", vmlinux(otherNotes())}, BytesInitrd(), "");
  assert_false(entry.ok());
  assert_int_equal(entry.error().errnum(), ENOEXEC);
  assert_non_null(strstr(entry.error().message().c_str(), "CONFIG_PVH"));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(loads_a_bzimage),
      cmocka_unit_test(initrd_stays_clear_of_the_decompressed_kernel),
      cmocka_unit_test(kernel_needs_memory_from_its_runtime_address),
      cmocka_unit_test(boots_the_vmlinux_inside_a_bzimage),
      cmocka_unit_test(other_compressions_boot_through_the_decompressor),
      cmocka_unit_test(refuses_a_vmlinux_outside_its_reserved_range),
      cmocka_unit_test(refuses_a_corrupt_payload),
      cmocka_unit_test_setup_teardown(a_cached_vmlinux_boots_the_same, makeTempDir, removeTempDir),
      cmocka_unit_test(a_vmlinux_without_the_pvh_note_is_refused),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

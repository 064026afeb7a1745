#include "vmm/boot_cpu_state.h"

#include <map>

#include "tests/unit/unit_test.h"
#include "vmm/x86_layout.h"

using tandem::vmm::bootFpu;
using tandem::vmm::bootGdt;
using tandem::vmm::bootMsrs;
using tandem::vmm::bootRegs;
using tandem::vmm::EntryMode;
using tandem::vmm::gdtEntry;
using tandem::vmm::GuestMemory;
using tandem::vmm::kCode32Flags;
using tandem::vmm::kCode64Flags;
using tandem::vmm::kDataFlags;
using tandem::vmm::kTssFlags;
using tandem::vmm::segmentFromGdtEntry;
using tandem::vmm::setBootSregs;
using tandem::vmm::setLapicLintModes;
using tandem::vmm::writeDescriptorTables;
using tandem::vmm::writeIdentityPageTables;
namespace x86 = tandem::x86;

namespace {

// Flat 4 GiB descriptors as the SDM (vol. 3, 3.4.5) encodes them, worked out by hand.
constexpr std::uint64_t kCode64Entry = 0x00af9b000000ffff;
constexpr std::uint64_t kCode32Entry = 0x00cf9b000000ffff;
constexpr std::uint64_t kDataEntry = 0x00cf93000000ffff;
constexpr std::uint64_t kTssEntry = 0x008f8b000000ffff;

constexpr std::uint64_t kCr0Pe = 1ull << 0;
constexpr std::uint64_t kCr0Et = 1ull << 4;
constexpr std::uint64_t kCr0Pg = 1ull << 31;
// KVM's CR0 after reset: CD, NW and ET.
constexpr std::uint64_t kCr0Reset = 0x60000010;
constexpr std::uint64_t kCr4Pae = 1ull << 5;
constexpr std::uint64_t kCr4Osfxsr = 1ull << 9;
constexpr std::uint64_t kEferLme = 1ull << 8;
constexpr std::uint64_t kEferLma = 1ull << 10;

struct SegmentFields {
  std::uint64_t base;
  std::uint32_t limit;
  std::uint16_t selector;
  std::uint8_t type, s, dpl, present, l, db, g;
};

void expectSegment(const kvm_segment& segment, const SegmentFields& want) {
  assert_true(segment.base == want.base);
  assert_int_equal(segment.limit, want.limit);
  assert_int_equal(segment.selector, want.selector);
  assert_int_equal(segment.type, want.type);
  assert_int_equal(segment.s, want.s);
  assert_int_equal(segment.dpl, want.dpl);
  assert_int_equal(segment.present, want.present);
  assert_int_equal(segment.l, want.l);
  assert_int_equal(segment.db, want.db);
  assert_int_equal(segment.g, want.g);
  assert_int_equal(segment.unusable, want.present ? 0 : 1);
}

// Flat segments: base 0, 4 GiB limit, ring 0.
constexpr SegmentFields kCode64 = {0, 0xffffffff, 0x08, 0xb, 1, 0, 1, 1, 0, 1};
constexpr SegmentFields kCode32 = {0, 0xffffffff, 0x08, 0xb, 1, 0, 1, 0, 1, 1};
constexpr SegmentFields kData = {0, 0xffffffff, 0x10, 0x3, 1, 0, 1, 0, 1, 1};
constexpr SegmentFields kTss = {0, 0xffffffff, 0x18, 0xb, 0, 0, 1, 0, 0, 1};

GuestMemory created(std::uint64_t bytes) {
  auto memory = GuestMemory::create(bytes, false);
  if (!memory.ok()) {
    fail_msg("%s", memory.error().describe().c_str());
  }
  return std::move(memory).value();
}

std::uint64_t u64At(const GuestMemory& memory, std::uint64_t address) {
  auto value = memory.readObject<std::uint64_t>(address);
  assert_true(value.ok());
  return *value;
}

void expectSegments(const kvm_sregs& sregs, const SegmentFields& code) {
  expectSegment(sregs.cs, code);
  for (const kvm_segment* data : {&sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss}) {
    expectSegment(*data, kData);
  }
  expectSegment(sregs.tr, kTss);
}

void expectDescriptorTableRegisters(const kvm_sregs& sregs) {
  assert_int_equal(sregs.gdt.base, x86::kGdtAddress);
  assert_int_equal(sregs.gdt.limit, 4 * 8 - 1);
  assert_int_equal(sregs.idt.base, x86::kIdtAddress);
  assert_int_equal(sregs.idt.limit, 8 - 1);
}

std::uint32_t lapicRegister(const kvm_lapic_state& lapic, std::size_t offset) {
  std::uint32_t value;
  std::memcpy(&value, lapic.regs + offset, sizeof(value));
  return value;
}

void setLapicRegister(kvm_lapic_state& lapic, std::size_t offset, std::uint32_t value) {
  std::memcpy(lapic.regs + offset, &value, sizeof(value));
}

}  // namespace

static void gdt_entries_for_the_boot_descriptors(void**) {
  assert_true(gdtEntry(kCode64Flags, 0, 0xfffff) == kCode64Entry);
  assert_true(gdtEntry(kCode32Flags, 0, 0xfffff) == kCode32Entry);
  assert_true(gdtEntry(kDataFlags, 0, 0xfffff) == kDataEntry);
  assert_true(gdtEntry(kTssFlags, 0, 0xfffff) == kTssEntry);
}

// Base bits 0-23 go to bits 16-39 and 24-31 to 56-63; limit bits 16-19 to 48-51.
static void gdt_entry_scatters_base_and_limit(void**) {
  assert_true(gdtEntry(0x0093, 0x12345678, 0xabcde) == 0x120a93345678bcde);
  // Bits 8-11 of the flags would land on the limit's top nibble; they are not flags.
  assert_true(gdtEntry(0x0f93, 0x12345678, 0xabcde) == 0x120a93345678bcde);
  // A descriptor limit has 20 bits.
  assert_true(gdtEntry(0x0093, 0, 0xfffabcde) == gdtEntry(0x0093, 0, 0xabcde));
}

static void segments_from_the_boot_descriptors(void**) {
  expectSegment(segmentFromGdtEntry(kCode64Entry, 1), kCode64);
  expectSegment(segmentFromGdtEntry(kCode32Entry, 1), kCode32);
  expectSegment(segmentFromGdtEntry(kDataEntry, 2), kData);
  expectSegment(segmentFromGdtEntry(kTssEntry, 3), kTss);
}

static void segment_limit_counts_bytes(void**) {
  // G clear: the limit is in bytes already.
  expectSegment(segmentFromGdtEntry(0x120a93345678bcde, 5),
                {0x12345678, 0xabcde, 0x28, 0x3, 1, 0, 1, 0, 0, 0});
  // G set: pages of 4 KiB, the last one included.
  expectSegment(segmentFromGdtEntry(gdtEntry(0x8093, 0, 1), 2),
                {0, 0x1fff, 0x10, 0x3, 1, 0, 1, 0, 0, 1});
}

static void segment_privilege_and_available_bits(void**) {
  kvm_segment segment = segmentFromGdtEntry(gdtEntry(0x10f3, 0, 0xffff), 4);
  assert_int_equal(segment.dpl, 3);
  assert_int_equal(segment.avl, 1);
  assert_int_equal(segment.type, 0x3);
  assert_int_equal(segment.present, 1);
}

static void absent_segment_is_unusable(void**) {
  kvm_segment segment = segmentFromGdtEntry(gdtEntry(0x0013, 0, 0xffff), 2);
  assert_int_equal(segment.present, 0);
  assert_int_equal(segment.unusable, 1);
  assert_int_equal(segmentFromGdtEntry(0, 0).unusable, 1);
}

static void boot_gdt_for_each_mode(void**) {
  auto longMode = bootGdt(EntryMode::kLongMode64);
  assert_true(longMode[0] == 0);
  assert_true(longMode[1] == kCode64Entry);
  assert_true(longMode[2] == kDataEntry);
  assert_true(longMode[3] == kTssEntry);

  auto protectedMode = bootGdt(EntryMode::kProtectedMode32);
  assert_true(protectedMode[0] == 0);
  assert_true(protectedMode[1] == kCode32Entry);
  assert_true(protectedMode[2] == kDataEntry);
  assert_true(protectedMode[3] == kTssEntry);
}

static void identity_page_tables_map_the_first_4g(void**) {
  GuestMemory memory = created(32ull << 20);
  assert_true(writeIdentityPageTables(memory).ok());

  assert_true(u64At(memory, x86::kPml4Address) == (x86::kPdptAddress | 0x3));
  for (unsigned i = 1; i < 512; ++i) {
    assert_true(u64At(memory, x86::kPml4Address + i * 8) == 0);
  }
  for (unsigned i = 0; i < 4; ++i) {
    assert_true(u64At(memory, x86::kPdptAddress + i * 8) == ((x86::kPdAddress + i * 0x1000) | 0x3));
  }
  for (unsigned i = 4; i < 512; ++i) {
    assert_true(u64At(memory, x86::kPdptAddress + i * 8) == 0);
  }
  // Four directories, back to back: entry n maps 2 MiB page n, present, writable, PS.
  for (std::uint64_t n = 0; n < 4 * 512; ++n) {
    assert_true(u64At(memory, x86::kPdAddress + n * 8) == ((n << 21) | 0x83));
  }
  assert_true(u64At(memory, 0xeff8) == 0xffe00083);
}

static void identity_page_tables_need_their_memory(void**) {
  GuestMemory memory = created(0xc000);
  assert_false(writeIdentityPageTables(memory).ok());
}

static void descriptor_tables_in_guest_memory(void**) {
  for (EntryMode mode : {EntryMode::kLongMode64, EntryMode::kProtectedMode32}) {
    GuestMemory memory = created(1ull << 20);
    std::memset(memory.hostBase() + x86::kGdtAddress, 0xaa, 0x100);
    assert_true(writeDescriptorTables(memory, mode).ok());
    auto gdt = bootGdt(mode);
    assert_memory_equal(memory.hostBase() + x86::kGdtAddress, gdt.data(), sizeof(gdt));
    assert_true(u64At(memory, x86::kIdtAddress) == 0);
    assert_int_equal(memory.hostBase()[x86::kIdtAddress + 8], 0xaa);
  }
}

static void long_mode_sregs(void**) {
  kvm_sregs sregs{};
  sregs.cr0 = kCr0Reset;
  sregs.cr4 = kCr4Osfxsr;
  setBootSregs(sregs, EntryMode::kLongMode64);

  // Paging on with PAE and LME gives IA-32e mode; KVM wants LMA set to match.
  assert_true(sregs.cr0 == (kCr0Reset | kCr0Pe | kCr0Pg));
  assert_int_equal(sregs.cr3, x86::kPml4Address);
  assert_true(sregs.cr4 == (kCr4Osfxsr | kCr4Pae));
  assert_true(sregs.efer == (kEferLme | kEferLma));
  expectDescriptorTableRegisters(sregs);
  expectSegments(sregs, kCode64);
}

// PVH (start_info.h): 32-bit protected mode, paging off, CR4 and EFER clear, even when KVM or
// an earlier boot left them otherwise.
static void pvh_sregs(void**) {
  kvm_sregs sregs{};
  sregs.cr0 = kCr0Reset | kCr0Pg;
  sregs.cr4 = kCr4Pae | kCr4Osfxsr;
  sregs.efer = kEferLme | kEferLma;
  setBootSregs(sregs, EntryMode::kProtectedMode32);

  assert_true(sregs.cr0 & kCr0Pe);
  assert_true(sregs.cr0 & kCr0Et);
  assert_false(sregs.cr0 & kCr0Pg);
  assert_true(sregs.cr4 == 0);
  assert_true(sregs.efer == 0);
  expectDescriptorTableRegisters(sregs);
  expectSegments(sregs, kCode32);
}

static void long_mode_regs(void**) {
  kvm_regs regs = bootRegs(EntryMode::kLongMode64, 0x100200, x86::kBootParamsAddress);
  kvm_regs expected{};
  expected.rflags = 0x2;
  expected.rip = 0x100200;
  expected.rsp = x86::kBootStackPointer;
  expected.rbp = x86::kBootStackPointer;
  expected.rsi = x86::kBootParamsAddress;
  assert_memory_equal(&regs, &expected, sizeof(regs));
}

static void pvh_regs(void**) {
  kvm_regs regs = bootRegs(EntryMode::kProtectedMode32, 0x1000abc, x86::kPvhInfoAddress);
  kvm_regs expected{};
  expected.rflags = 0x2;
  expected.rip = 0x1000abc;
  expected.rbx = x86::kPvhInfoAddress;
  assert_memory_equal(&regs, &expected, sizeof(regs));
}

static void fpu_at_reset_values(void**) {
  kvm_fpu fpu = bootFpu();
  kvm_fpu expected{};
  expected.fcw = 0x37f;
  expected.mxcsr = 0x1f80;
  assert_memory_equal(&fpu, &expected, sizeof(fpu));
}

static void msrs_to_set(void**) {
  std::map<std::uint32_t, std::uint64_t> msrs;
  for (const kvm_msr_entry& entry : bootMsrs()) {
    assert_int_equal(entry.reserved, 0);
    assert_true(msrs.emplace(entry.index, entry.data).second);
  }
  const std::map<std::uint32_t, std::uint64_t> expected = {
      {0x10, 0},        // TSC
      {0x174, 0},       // SYSENTER_CS
      {0x175, 0},       // SYSENTER_ESP
      {0x176, 0},       // SYSENTER_EIP
      {0x1a0, 1},       // MISC_ENABLE: fast strings
      {0x2ff, 0x806},   // MTRR_DEF_TYPE: enabled, write-back
      {0xc0000081, 0},  // STAR
      {0xc0000082, 0},  // LSTAR
      {0xc0000083, 0},  // CSTAR
      {0xc0000084, 0},  // SYSCALL_MASK
      {0xc0000102, 0},  // KERNEL_GS_BASE
  };
  assert_int_equal(msrs.size(), expected.size());
  for (const auto& [index, value] : expected) {
    auto found = msrs.find(index);
    assert_true(found != msrs.end());
    assert_true(found->second == value);
  }
}

// Only the delivery-mode field (bits 8-10) changes: mask, trigger mode, polarity and vector
// are the LAPIC's own.
static void lapic_lint_modes(void**) {
  kvm_lapic_state lapic;
  for (std::size_t i = 0; i < sizeof(lapic.regs); ++i) {
    lapic.regs[i] = static_cast<char>(i * 13);
  }
  setLapicRegister(lapic, 0x350, 0x0001a2f0);
  setLapicRegister(lapic, 0x360, 0x0001e5aa);
  kvm_lapic_state before = lapic;

  setLapicLintModes(lapic);

  assert_int_equal(lapicRegister(lapic, 0x350), 0x0001a7f0);
  assert_int_equal(lapicRegister(lapic, 0x360), 0x0001e4aa);
  setLapicRegister(before, 0x350, 0x0001a7f0);
  setLapicRegister(before, 0x360, 0x0001e4aa);
  assert_memory_equal(lapic.regs, before.regs, sizeof(lapic.regs));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(gdt_entries_for_the_boot_descriptors),
      cmocka_unit_test(gdt_entry_scatters_base_and_limit),
      cmocka_unit_test(segments_from_the_boot_descriptors),
      cmocka_unit_test(segment_limit_counts_bytes),
      cmocka_unit_test(segment_privilege_and_available_bits),
      cmocka_unit_test(absent_segment_is_unusable),
      cmocka_unit_test(boot_gdt_for_each_mode),
      cmocka_unit_test(identity_page_tables_map_the_first_4g),
      cmocka_unit_test(identity_page_tables_need_their_memory),
      cmocka_unit_test(descriptor_tables_in_guest_memory),
      cmocka_unit_test(long_mode_sregs),
      cmocka_unit_test(pvh_sregs),
      cmocka_unit_test(long_mode_regs),
      cmocka_unit_test(pvh_regs),
      cmocka_unit_test(fpu_at_reset_values),
      cmocka_unit_test(msrs_to_set),
      cmocka_unit_test(lapic_lint_modes),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

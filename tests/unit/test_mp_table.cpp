#include "vmm/mp_table.h"

#include <string>

#include "tests/unit/unit_test.h"
#include "vmm/x86_layout.h"

using tandem::vmm::buildMpTable;
using tandem::vmm::kMpTableMaxCpus;
using tandem::vmm::mpTableSize;
namespace x86 = tandem::x86;

namespace {

constexpr std::size_t kHeader = 16;             // the configuration table's offset
constexpr std::size_t kEntries = kHeader + 44;  // its first entry's
constexpr std::size_t kProcessorSize = 20;

std::uint32_t u16At(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
  return bytes[offset] | (bytes[offset + 1] << 8);
}

std::uint32_t u32At(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
  return u16At(bytes, offset) | (u16At(bytes, offset + 2) << 16);
}

std::string textAt(const std::vector<std::uint8_t>& bytes, std::size_t offset, std::size_t size) {
  return std::string(bytes.begin() + offset, bytes.begin() + offset + size);
}

unsigned sum(const std::vector<std::uint8_t>& bytes, std::size_t begin, std::size_t end) {
  unsigned total = 0;
  for (std::size_t i = begin; i < end; ++i) {
    total += bytes[i];
  }
  return total & 0xff;
}

std::vector<std::uint8_t> table(unsigned cpus) {
  auto built = buildMpTable(cpus, x86::kEbdaAddress);
  assert_true(built.ok());
  return *built;
}

// Where the fixed entries start, after the processors.
std::size_t busEntry(unsigned cpus) {
  return kEntries + cpus * kProcessorSize;
}

void checkTable(unsigned cpus) {
  const auto bytes = table(cpus);
  assert_int_equal(bytes.size(), mpTableSize(cpus));

  // Floating pointer, MP spec 1.4 table 4-1.
  assert_string_equal(textAt(bytes, 0, 4).c_str(), "_MP_");
  assert_int_equal(u32At(bytes, 4), x86::kEbdaAddress + 16);
  assert_int_equal(bytes[8], 1);
  assert_int_equal(bytes[9], 4);
  assert_int_equal(sum(bytes, 0, 16), 0);
  for (std::size_t i = 11; i < 16; ++i) {
    assert_int_equal(bytes[i], 0);
  }

  // Header, table 4-2.
  assert_string_equal(textAt(bytes, kHeader, 4).c_str(), "PCMP");
  assert_int_equal(u16At(bytes, kHeader + 4), bytes.size() - 16);
  assert_int_equal(bytes[kHeader + 6], 4);
  assert_int_equal(sum(bytes, kHeader, bytes.size()), 0);
  assert_string_equal(textAt(bytes, kHeader + 8, 8).c_str(), "TANDEM  ");
  assert_string_equal(textAt(bytes, kHeader + 16, 12).c_str(), "TANDEM      ");
  assert_int_equal(u32At(bytes, kHeader + 28), 0);
  assert_int_equal(u16At(bytes, kHeader + 32), 0);
  assert_int_equal(u16At(bytes, kHeader + 34), cpus + 1 + 1 + 24 + 2);
  assert_int_equal(u32At(bytes, kHeader + 36), x86::kLapicAddress);
  assert_int_equal(u16At(bytes, kHeader + 40), 0);
  assert_int_equal(bytes[kHeader + 42], 0);

  // Processors, table 4-4.
  for (unsigned cpu = 0; cpu < cpus; ++cpu) {
    const std::size_t at = kEntries + cpu * kProcessorSize;
    assert_int_equal(bytes[at], 0);
    assert_int_equal(bytes[at + 1], cpu);
    assert_int_equal(bytes[at + 2], 0x14);
    assert_int_equal(bytes[at + 3], cpu == 0 ? 0x3 : 0x1);
    assert_int_equal(u32At(bytes, at + 4), 0x600);
    assert_int_equal(u32At(bytes, at + 8), 0x201);
    assert_int_equal(u32At(bytes, at + 12), 0);
    assert_int_equal(u32At(bytes, at + 16), 0);
  }

  // Bus, table 4-7.
  std::size_t at = busEntry(cpus);
  assert_int_equal(bytes[at], 1);
  assert_int_equal(bytes[at + 1], 0);
  assert_string_equal(textAt(bytes, at + 2, 6).c_str(), "ISA   ");

  // IOAPIC, table 4-9.
  at += 8;
  assert_int_equal(bytes[at], 2);
  assert_int_equal(bytes[at + 1], cpus);
  assert_int_equal(bytes[at + 2], 0x11);
  assert_int_equal(bytes[at + 3], 1);
  assert_int_equal(u32At(bytes, at + 4), x86::kIoapicAddress);

  // IRQ n on IOAPIC pin n for all 24 pins, type INT, bus-default polarity and trigger
  // (table 4-10).
  at += 8;
  for (unsigned irq = 0; irq < 24; ++irq, at += 8) {
    assert_int_equal(bytes[at], 3);
    assert_int_equal(bytes[at + 1], 0);
    assert_int_equal(u16At(bytes, at + 2), 0);
    assert_int_equal(bytes[at + 4], 0);
    assert_int_equal(bytes[at + 5], irq);
    assert_int_equal(bytes[at + 6], cpus);
    assert_int_equal(bytes[at + 7], irq);
  }

  // LINT0 ExtINT and LINT1 NMI on every LAPIC (table 4-12).
  for (unsigned lint = 0; lint < 2; ++lint, at += 8) {
    assert_int_equal(bytes[at], 4);
    assert_int_equal(bytes[at + 1], lint == 0 ? 3 : 1);
    assert_int_equal(u16At(bytes, at + 2), 0);
    assert_int_equal(bytes[at + 4], 0);
    assert_int_equal(bytes[at + 5], 0);
    assert_int_equal(bytes[at + 6], 0xff);
    assert_int_equal(bytes[at + 7], lint);
  }
  assert_int_equal(at, bytes.size());
}

}  // namespace

static void one_cpu(void**) {
  checkTable(1);
}

static void four_cpus(void**) {
  checkTable(4);
}

static void only_cpu_zero_is_the_bootstrap_processor(void**) {
  const auto bytes = table(4);
  assert_int_equal(bytes[kEntries + 3] & 0x2, 0x2);
  for (unsigned cpu = 1; cpu < 4; ++cpu) {
    assert_int_equal(bytes[kEntries + cpu * kProcessorSize + 3] & 0x2, 0);
  }
}

static void pointer_follows_the_base_address(void**) {
  auto built = buildMpTable(2, 0xf0000);
  assert_true(built.ok());
  assert_int_equal(u32At(*built, 4), 0xf0010);
  assert_int_equal(sum(*built, 0, 16), 0);
}

static void largest_table_fits_its_room(void**) {
  assert_true(mpTableSize(kMpTableMaxCpus) <= x86::kMpTableMaxBytes);
  assert_true(mpTableSize(kMpTableMaxCpus + 1) > x86::kMpTableMaxBytes);
  checkTable(kMpTableMaxCpus);
}

static void rejects_out_of_range_cpu_counts(void**) {
  assert_false(buildMpTable(0, x86::kEbdaAddress).ok());
  auto tooMany = buildMpTable(kMpTableMaxCpus + 1, x86::kEbdaAddress);
  assert_false(tooMany.ok());
  assert_non_null(strstr(tooMany.error().message().c_str(), "bytes"));
  auto beyondApicIds = buildMpTable(255, x86::kEbdaAddress);
  assert_false(beyondApicIds.ok());
  assert_non_null(strstr(beyondApicIds.error().message().c_str(), "APIC ids"));
}

static void rejects_unusable_base_addresses(void**) {
  assert_false(buildMpTable(1, x86::kEbdaAddress + 8).ok());
  assert_false(buildMpTable(1, 0xfffffff0).ok());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(one_cpu),
      cmocka_unit_test(four_cpus),
      cmocka_unit_test(only_cpu_zero_is_the_bootstrap_processor),
      cmocka_unit_test(pointer_follows_the_base_address),
      cmocka_unit_test(largest_table_fits_its_room),
      cmocka_unit_test(rejects_out_of_range_cpu_counts),
      cmocka_unit_test(rejects_unusable_base_addresses),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

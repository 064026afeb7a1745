#include "vmm/devices/i8042.h"
#include "vmm/devices/status_port.h"

#include <utility>
#include <vector>

#include "tests/unit/unit_test.h"

using tandem::guest::encodeStatus;
using tandem::guest::StatusKind;
using tandem::vmm::I8042;
using tandem::vmm::kI8042CommandPort;
using tandem::vmm::kI8042DataPort;
using tandem::vmm::StatusPort;

namespace {

// The i8042 is registered at its data port; offsets are relative to it.
constexpr std::uint64_t kData = 0;
constexpr std::uint64_t kCommand = kI8042CommandPort - kI8042DataPort;

using Report = std::pair<StatusKind, std::uint8_t>;

void writeWord(StatusPort& port, std::uint64_t offset, std::uint32_t value) {
  std::uint8_t bytes[4];
  std::memcpy(bytes, &value, sizeof(value));
  port.write(offset, bytes);
}

}  // namespace

static void i8042_reset_command_requests_a_reset(void**) {
  int resets = 0;
  I8042 controller([&] { ++resets; });
  const std::uint8_t pulse = 0xfe;
  controller.write(kCommand, {&pulse, 1});
  assert_int_equal(resets, 1);
  controller.write(kCommand, {&pulse, 1});
  assert_int_equal(resets, 2);
}

static void i8042_other_writes_do_nothing(void**) {
  int resets = 0;
  I8042 controller([&] { ++resets; });
  const std::uint8_t pulse = 0xfe;
  // The same byte on the data port is keyboard data, not a command.
  controller.write(kData, {&pulse, 1});
  for (std::uint8_t command : {0x00, 0x60, 0xa7, 0xad, 0xd1, 0xf0, 0xff}) {
    controller.write(kCommand, {&command, 1});
  }
  controller.write(kCommand, {});
  assert_int_equal(resets, 0);
}

// Status 0 (both buffers empty) ends the kernel's wait-for-empty loops at once.
static void i8042_reads_zero(void**) {
  I8042 controller([] {});
  for (std::uint64_t offset : {kData, kCommand}) {
    std::uint8_t bytes[2] = {0xaa, 0xaa};
    controller.read(offset, bytes);
    assert_int_equal(bytes[0], 0);
    assert_int_equal(bytes[1], 0);
  }
}

static void status_port_decodes_a_32_bit_write(void**) {
  std::vector<Report> reports;
  StatusPort port(
      [&](StatusKind kind, std::uint8_t payload) { reports.emplace_back(kind, payload); });
  writeWord(port, 0, encodeStatus(StatusKind::kInitStarted, 0));
  writeWord(port, 0, encodeStatus(StatusKind::kExited, 42));
  writeWord(port, 0, encodeStatus(StatusKind::kSignaled, 9));
  writeWord(port, 0, encodeStatus(StatusKind::kInitFailed, 127));
  const std::vector<Report> expected = {{StatusKind::kInitStarted, 0},
                                        {StatusKind::kExited, 42},
                                        {StatusKind::kSignaled, 9},
                                        {StatusKind::kInitFailed, 127}};
  assert_true(reports == expected);
}

// The kind is the top byte and the payload the low one; the bits between are not part of it.
static void status_port_ignores_the_middle_bytes(void**) {
  std::vector<Report> reports;
  StatusPort port(
      [&](StatusKind kind, std::uint8_t payload) { reports.emplace_back(kind, payload); });
  writeWord(port, 0, 0x02abcd07);
  assert_int_equal(reports.size(), 1);
  assert_true(reports[0] == Report(StatusKind::kExited, 7));
}

static void status_port_ignores_other_writes(void**) {
  int reports = 0;
  StatusPort port([&](StatusKind, std::uint8_t) { ++reports; });
  const std::uint8_t bytes[8] = {2, 0, 0, 2, 0, 0, 0, 0};
  // Byte and word writes: `outb` from something that is not tandem's init.
  port.write(0, std::span<const std::uint8_t>(bytes, 1));
  port.write(0, std::span<const std::uint8_t>(bytes, 2));
  port.write(0, std::span<const std::uint8_t>(bytes, 8));
  port.write(0, {});
  // An unaligned 32-bit write inside the port's range.
  port.write(1, std::span<const std::uint8_t>(bytes, 4));
  assert_int_equal(reports, 0);
}

static void status_port_reads_all_ones(void**) {
  StatusPort port([](StatusKind, std::uint8_t) {});
  std::uint8_t bytes[4] = {};
  port.read(0, bytes);
  for (std::uint8_t byte : bytes) {
    assert_int_equal(byte, 0xff);
  }
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(i8042_reset_command_requests_a_reset),
      cmocka_unit_test(i8042_other_writes_do_nothing),
      cmocka_unit_test(i8042_reads_zero),
      cmocka_unit_test(status_port_decodes_a_32_bit_write),
      cmocka_unit_test(status_port_ignores_the_middle_bytes),
      cmocka_unit_test(status_port_ignores_other_writes),
      cmocka_unit_test(status_port_reads_all_ones),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

#include "vmm/vcpu_exit.h"

#include <new>
#include <vector>

#include "tests/unit/unit_test.h"

using tandem::vmm::decodeExit;
using tandem::vmm::exitReasonName;
using tandem::vmm::FailureExit;
using tandem::vmm::MmioExit;
using tandem::vmm::NoActionExit;
using tandem::vmm::PortIoExit;
using tandem::vmm::StopExit;
using tandem::vmm::VcpuExit;

namespace {

// KVM's vCPU mapping: kvm_run, then the port I/O data page (KVM_PIO_PAGE_OFFSET), then more.
constexpr std::size_t kPage = 4096;
constexpr std::size_t kRunSize = 3 * kPage;

// A kvm_run in a plain buffer the size of the vCPU's mapping.
struct RunArea {
  RunArea() : words(kRunSize / sizeof(std::uint64_t)), run(*new (words.data()) kvm_run{}) {}

  std::uint8_t* base() { return reinterpret_cast<std::uint8_t*>(words.data()); }

  void portIo(std::uint8_t direction, std::uint16_t port, std::uint8_t size, std::uint32_t count,
              std::uint64_t dataOffset) {
    run.exit_reason = KVM_EXIT_IO;
    run.io.direction = direction;
    run.io.port = port;
    run.io.size = size;
    run.io.count = count;
    run.io.data_offset = dataOffset;
  }

  std::vector<std::uint64_t> words;
  kvm_run& run;
};

template <class T>
T decoded(RunArea& area) {
  VcpuExit exit = decodeExit(area.run, kRunSize);
  if (!std::holds_alternative<T>(exit)) {
    fail_msg("decoded to alternative %zu", exit.index());
  }
  return std::get<T>(exit);
}

void expectReason(const std::string& reason, const char* part) {
  if (strstr(reason.c_str(), part) == nullptr) {
    fail_msg("expected \"%s\" in: %s", part, reason.c_str());
  }
}

}  // namespace

static void port_output(void**) {
  RunArea area;
  area.portIo(KVM_EXIT_IO_OUT, 0x3f8, 1, 1, kPage);
  area.base()[kPage] = 'x';
  PortIoExit io = decoded<PortIoExit>(area);
  assert_int_equal(io.port, 0x3f8);
  assert_true(io.write);
  assert_int_equal(io.size, 1);
  assert_int_equal(io.count, 1);
  // The span is KVM's own buffer: an IN handler writes its answer there.
  assert_ptr_equal(io.data.data(), area.base() + kPage);
  assert_int_equal(io.data.size(), 1);
  assert_int_equal(io.data[0], 'x');
}

static void port_input(void**) {
  RunArea area;
  area.portIo(KVM_EXIT_IO_IN, 0x64, 4, 1, kPage + 8);
  PortIoExit io = decoded<PortIoExit>(area);
  assert_int_equal(io.port, 0x64);
  assert_false(io.write);
  assert_int_equal(io.size, 4);
  assert_ptr_equal(io.data.data(), area.base() + kPage + 8);
  assert_int_equal(io.data.size(), 4);
}

// `rep outsw` of three words: all repetitions in one exit, back to back.
static void port_string_io(void**) {
  RunArea area;
  area.portIo(KVM_EXIT_IO_OUT, 0x2f8, 2, 3, kPage);
  PortIoExit io = decoded<PortIoExit>(area);
  assert_int_equal(io.size, 2);
  assert_int_equal(io.count, 3);
  assert_int_equal(io.data.size(), 6);
}

static void port_data_ending_the_mapping(void**) {
  RunArea area;
  area.portIo(KVM_EXIT_IO_OUT, 0x80, 4, 2, kRunSize - 8);
  assert_int_equal(decoded<PortIoExit>(area).data.size(), 8);
}

// Only 1, 2 and 4 bytes per element: with 0, any count (the fuzzer's was near 2^32) would fit.
static void port_element_sizes_other_than_1_2_4_fail(void**) {
  for (std::uint8_t size : {0, 3, 8, 255}) {
    RunArea area;
    area.portIo(KVM_EXIT_IO_IN, 0x60, size, 0xffffffff, kPage);
    expectReason(decoded<FailureExit>(area).reason, "-byte elements");
  }
}

static void port_data_outside_the_mapping(void**) {
  struct Case {
    std::uint8_t size;
    std::uint32_t count;
    std::uint64_t offset;
  };
  const Case cases[] = {
      {1, 1, kRunSize},   {4, 1, kRunSize - 3},   {1, 2, kRunSize - 1},
      {1, 1, UINT64_MAX}, {4, 0xffffffff, kPage}, {2, 0xffffffff, UINT64_MAX - 10},
  };
  for (const Case& c : cases) {
    RunArea area;
    area.portIo(KVM_EXIT_IO_OUT, 0x3f8, c.size, c.count, c.offset);
    expectReason(decoded<FailureExit>(area).reason, "outside the kvm_run area");
  }
}

static void mmio_access(void**) {
  RunArea area;
  area.run.exit_reason = KVM_EXIT_MMIO;
  area.run.mmio.phys_addr = 0xd0000010;
  area.run.mmio.len = 4;
  area.run.mmio.is_write = 1;
  std::memcpy(area.run.mmio.data, "\x01\x02\x03\x04", 4);
  MmioExit mmio = decoded<MmioExit>(area);
  assert_int_equal(mmio.address, 0xd0000010);
  assert_true(mmio.write);
  assert_ptr_equal(mmio.data.data(), area.run.mmio.data);
  assert_int_equal(mmio.data.size(), 4);
  assert_int_equal(mmio.data[3], 4);

  area.run.mmio.is_write = 0;
  area.run.mmio.len = 8;
  assert_false(decoded<MmioExit>(area).write);
  assert_int_equal(decoded<MmioExit>(area).data.size(), 8);
}

// mmio.data has 8 bytes; a larger length must not reach past it.
static void mmio_length_is_bounded(void**) {
  RunArea area;
  area.run.exit_reason = KVM_EXIT_MMIO;
  area.run.mmio.len = 0xffffffff;
  assert_int_equal(decoded<MmioExit>(area).data.size(), 8);
}

static void shutdown_is_a_stop(void**) {
  RunArea area;
  area.run.exit_reason = KVM_EXIT_SHUTDOWN;
  expectReason(decoded<StopExit>(area).reason, "triple fault");
}

static void system_events_are_stops(void**) {
  const std::pair<std::uint32_t, const char*> events[] = {
      {KVM_SYSTEM_EVENT_RESET, "reset"},   {KVM_SYSTEM_EVENT_SHUTDOWN, "powered off"},
      {KVM_SYSTEM_EVENT_CRASH, "crashed"}, {KVM_SYSTEM_EVENT_SUSPEND, "system event 5"},
      {0x1234, "system event 4660"},
  };
  for (const auto& [type, reason] : events) {
    RunArea area;
    area.run.exit_reason = KVM_EXIT_SYSTEM_EVENT;
    area.run.system_event.type = type;
    expectReason(decoded<StopExit>(area).reason, reason);
  }
}

static void halt_is_a_stop(void**) {
  RunArea area;
  area.run.exit_reason = KVM_EXIT_HLT;
  expectReason(decoded<StopExit>(area).reason, "halted");
}

static void failed_entry(void**) {
  RunArea area;
  area.run.exit_reason = KVM_EXIT_FAIL_ENTRY;
  // VMX exit reason 33: VM-entry failure due to invalid guest state, with bit 31 set.
  area.run.fail_entry.hardware_entry_failure_reason = 0x80000021;
  expectReason(decoded<FailureExit>(area).reason, "2147483681");
}

static void internal_error(void**) {
  RunArea area;
  area.run.exit_reason = KVM_EXIT_INTERNAL_ERROR;
  area.run.internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
  expectReason(decoded<FailureExit>(area).reason, "suberror 1");
}

static void interrupted_run_needs_nothing(void**) {
  RunArea area;
  area.run.exit_reason = KVM_EXIT_INTR;
  decoded<NoActionExit>(area);
}

static void unexpected_exits_fail(void**) {
  RunArea area;
  area.run.exit_reason = KVM_EXIT_DEBUG;
  expectReason(decoded<FailureExit>(area).reason, "unexpected KVM exit: reason_4");
  area.run.exit_reason = KVM_EXIT_UNKNOWN;
  expectReason(decoded<FailureExit>(area).reason, "unexpected KVM exit: unknown");
}

static void reason_names(void**) {
  const std::pair<std::uint32_t, const char*> names[] = {
      {KVM_EXIT_IO, "io"},
      {KVM_EXIT_MMIO, "mmio"},
      {KVM_EXIT_HLT, "hlt"},
      {KVM_EXIT_SHUTDOWN, "shutdown"},
      {KVM_EXIT_SYSTEM_EVENT, "system_event"},
      {KVM_EXIT_INTR, "intr"},
      {KVM_EXIT_FAIL_ENTRY, "fail_entry"},
      {KVM_EXIT_INTERNAL_ERROR, "internal_error"},
      {KVM_EXIT_UNKNOWN, "unknown"},
      {KVM_EXIT_DEBUG, "reason_4"},
      {999, "reason_999"},
  };
  for (const auto& [reason, name] : names) {
    assert_string_equal(exitReasonName(reason).c_str(), name);
  }
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(port_output),
      cmocka_unit_test(port_input),
      cmocka_unit_test(port_string_io),
      cmocka_unit_test(port_data_ending_the_mapping),
      cmocka_unit_test(port_data_outside_the_mapping),
      cmocka_unit_test(port_element_sizes_other_than_1_2_4_fail),
      cmocka_unit_test(mmio_access),
      cmocka_unit_test(mmio_length_is_bounded),
      cmocka_unit_test(shutdown_is_a_stop),
      cmocka_unit_test(system_events_are_stops),
      cmocka_unit_test(halt_is_a_stop),
      cmocka_unit_test(failed_entry),
      cmocka_unit_test(internal_error),
      cmocka_unit_test(interrupted_run_needs_nothing),
      cmocka_unit_test(unexpected_exits_fail),
      cmocka_unit_test(reason_names),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

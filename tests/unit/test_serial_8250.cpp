#include "vmm/devices/serial_8250.h"

#include <string>
#include <vector>

#include "tests/unit/unit_test.h"

using tandem::vmm::Serial8250;

namespace {

// Register offsets and bits from the 16550A data sheet (Linux's serial_reg.h names).
constexpr std::uint64_t kRbrThr = 0;  // DLL with DLAB
constexpr std::uint64_t kIer = 1;     // DLM with DLAB
constexpr std::uint64_t kIirFcr = 2;
constexpr std::uint64_t kLcr = 3;
constexpr std::uint64_t kMcr = 4;
constexpr std::uint64_t kLsr = 5;
constexpr std::uint64_t kMsr = 6;
constexpr std::uint64_t kScr = 7;

constexpr std::uint8_t kIerRdi = 0x01;
constexpr std::uint8_t kIerThri = 0x02;
constexpr std::uint8_t kIirNone = 0x01;
constexpr std::uint8_t kIirThri = 0x02;
constexpr std::uint8_t kIirRdi = 0x04;
constexpr std::uint8_t kIirFifos = 0xc0;
constexpr std::uint8_t kLsrDataReady = 0x01;
constexpr std::uint8_t kLsrTransmitterIdle = 0x60;  // THRE and TEMT
constexpr std::uint8_t kMcrLoop = 0x10;

// The UART with its callbacks counted, driven register by register as the 8250 driver does.
struct Uart {
  Uart()
      : serial([this](std::uint8_t byte) { output.push_back(static_cast<char>(byte)); },
               [this] { ++interrupts; }, [this] { ++drained; }) {}

  std::uint8_t read(std::uint64_t offset) {
    std::uint8_t value = 0;
    serial.read(offset, {&value, 1});
    return value;
  }
  void write(std::uint64_t offset, std::uint8_t value) { serial.write(offset, {&value, 1}); }
  std::size_t push(const std::string& bytes) {
    return serial.pushInput({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  }

  std::string output;
  int interrupts = 0;
  int drained = 0;
  Serial8250 serial;
};

}  // namespace

static void registers_after_reset(void**) {
  Uart uart;
  assert_int_equal(uart.read(kIer), 0);
  assert_int_equal(uart.read(kIirFcr), kIirNone);
  assert_int_equal(uart.read(kLcr), 0x03);
  assert_int_equal(uart.read(kMcr), 0x08);
  assert_int_equal(uart.read(kLsr), kLsrTransmitterIdle);
  // Carrier, data set ready and clear to send: a connected peer.
  assert_int_equal(uart.read(kMsr), 0xb0);
  assert_int_equal(uart.read(kScr), 0);
  assert_int_equal(uart.read(kRbrThr), 0);
}

static void transmit_goes_to_output(void**) {
  Uart uart;
  uart.write(kRbrThr, 'h');
  uart.write(kRbrThr, 'i');
  assert_string_equal(uart.output.c_str(), "hi");
  assert_int_equal(uart.interrupts, 0);
  assert_int_equal(uart.read(kLsr), kLsrTransmitterIdle);
}

static void enabling_thri_raises_an_interrupt(void**) {
  Uart uart;
  uart.write(kIer, kIerThri);
  assert_int_equal(uart.interrupts, 1);
  assert_int_equal(uart.read(kIirFcr), kIirThri);
  // Reading IIR acknowledged it.
  assert_int_equal(uart.read(kIirFcr), kIirNone);

  // Writing the same enable bits again is not a new enable.
  uart.write(kIer, kIerThri);
  assert_int_equal(uart.interrupts, 1);
  assert_int_equal(uart.read(kIirFcr), kIirNone);

  uart.write(kIer, 0);
  uart.write(kIer, kIerThri);
  assert_int_equal(uart.interrupts, 2);
  assert_int_equal(uart.read(kIirFcr), kIirThri);
}

static void each_transmitted_byte_raises_thri(void**) {
  Uart uart;
  uart.write(kIer, kIerThri);
  assert_int_equal(uart.read(kIirFcr), kIirThri);
  uart.write(kRbrThr, 'a');
  assert_int_equal(uart.interrupts, 2);
  assert_int_equal(uart.read(kIirFcr), kIirThri);
  assert_int_equal(uart.read(kIirFcr), kIirNone);
  uart.write(kRbrThr, 'b');
  assert_int_equal(uart.interrupts, 3);
  assert_string_equal(uart.output.c_str(), "ab");
}

static void thre_without_thri_is_not_reported(void**) {
  Uart uart;
  uart.write(kRbrThr, 'a');
  assert_int_equal(uart.read(kIirFcr), kIirNone);
  assert_int_equal(uart.interrupts, 0);
}

static void received_data_interrupt(void**) {
  Uart uart;
  uart.write(kIer, kIerRdi);
  assert_int_equal(uart.interrupts, 0);
  assert_int_equal(uart.push("ab"), 2);
  assert_int_equal(uart.interrupts, 1);
  // More input while some is pending raises no new edge: the driver reads until LSR is clear.
  assert_int_equal(uart.push("c"), 1);
  assert_int_equal(uart.interrupts, 1);

  assert_int_equal(uart.read(kIirFcr), kIirRdi);
  assert_int_equal(uart.read(kLsr), kLsrTransmitterIdle | kLsrDataReady);
  assert_int_equal(uart.read(kRbrThr), 'a');
  assert_int_equal(uart.read(kIirFcr), kIirRdi);
  assert_int_equal(uart.read(kRbrThr), 'b');
  assert_int_equal(uart.read(kRbrThr), 'c');
  assert_int_equal(uart.read(kIirFcr), kIirNone);
  assert_int_equal(uart.read(kLsr), kLsrTransmitterIdle);

  // Input arriving into an empty queue is a new edge.
  uart.push("d");
  assert_int_equal(uart.interrupts, 2);
}

static void input_without_rdi_raises_nothing(void**) {
  Uart uart;
  uart.push("x");
  assert_int_equal(uart.interrupts, 0);
  assert_int_equal(uart.read(kIirFcr), kIirNone);
  assert_int_equal(uart.read(kLsr), kLsrTransmitterIdle | kLsrDataReady);
  assert_int_equal(uart.read(kRbrThr), 'x');
}

static void enabling_rdi_with_input_queued_raises_an_interrupt(void**) {
  Uart uart;
  uart.push("x");
  uart.write(kIer, kIerRdi);
  assert_int_equal(uart.interrupts, 1);
  assert_int_equal(uart.read(kIirFcr), kIirRdi);
}

// Received data is priority 2, THRE priority 3 (data sheet, table 4): THRE waits, and is
// not acknowledged by an IIR read that reported received data.
static void received_data_outranks_thre(void**) {
  Uart uart;
  uart.push("xy");
  uart.write(kIer, kIerRdi | kIerThri);
  assert_int_equal(uart.interrupts, 1);
  assert_int_equal(uart.read(kIirFcr), kIirRdi);
  assert_int_equal(uart.read(kIirFcr), kIirRdi);
  uart.read(kRbrThr);
  uart.read(kRbrThr);
  assert_int_equal(uart.read(kIirFcr), kIirThri);
  assert_int_equal(uart.read(kIirFcr), kIirNone);
}

static void divisor_latch(void**) {
  Uart uart;
  uart.write(kIer, kIerRdi | 0x04);
  uart.push("q");
  uart.write(kLcr, 0x80 | 0x03);
  // The reset divisor, 12: 9600 baud.
  assert_int_equal(uart.read(kRbrThr), 0x0c);
  assert_int_equal(uart.read(kIer), 0x00);
  uart.write(kRbrThr, 0x01);
  uart.write(kIer, 0x02);
  assert_int_equal(uart.read(kRbrThr), 0x01);
  assert_int_equal(uart.read(kIer), 0x02);
  assert_int_equal(uart.read(kLcr), 0x83);
  // Divisor writes are neither output nor interrupt enables.
  assert_true(uart.output.empty());
  assert_int_equal(uart.interrupts, 1);

  uart.write(kLcr, 0x03);
  assert_int_equal(uart.read(kIer), kIerRdi | 0x04);
  assert_int_equal(uart.read(kRbrThr), 'q');
  uart.write(kLcr, 0x83);
  assert_int_equal(uart.read(kRbrThr), 0x01);
  assert_int_equal(uart.read(kIer), 0x02);
}

static void interrupt_enable_keeps_four_bits(void**) {
  Uart uart;
  uart.write(kIer, 0xff);
  assert_int_equal(uart.read(kIer), 0x0f);
}

static void line_and_modem_control_read_back(void**) {
  Uart uart;
  uart.write(kLcr, 0x1b);
  assert_int_equal(uart.read(kLcr), 0x1b);
  uart.write(kMcr, 0x0b);
  assert_int_equal(uart.read(kMcr), 0x0b);
  // Bits 5-7 do not exist on a 16550A.
  uart.write(kMcr, 0xff);
  assert_int_equal(uart.read(kMcr), 0x1f);
}

static void scratch_register(void**) {
  Uart uart;
  uart.write(kScr, 0x5a);
  assert_int_equal(uart.read(kScr), 0x5a);
  uart.write(kScr, 0xa5);
  assert_int_equal(uart.read(kScr), 0xa5);
}

// Loopback wires DTR to DSR, RTS to CTS, OUT1 to RI and OUT2 to DCD.
static void loopback_modem_status(void**) {
  Uart uart;
  const std::pair<std::uint8_t, std::uint8_t> cases[] = {
      {0x00, 0x00}, {0x01, 0x20}, {0x02, 0x10}, {0x04, 0x40}, {0x08, 0x80}, {0x0f, 0xf0},
  };
  for (const auto& [control, status] : cases) {
    uart.write(kMcr, kMcrLoop | control);
    assert_int_equal(uart.read(kMsr), status);
  }
  // Linux's autoconfig: RTS and OUT2 in loopback must read back as CTS and DCD.
  uart.write(kMcr, kMcrLoop | 0x0a);
  assert_int_equal(uart.read(kMsr) & 0xf0, 0x90);
  uart.write(kMcr, 0x08);
  assert_int_equal(uart.read(kMsr), 0xb0);
}

static void loopback_returns_transmitted_data(void**) {
  Uart uart;
  uart.write(kMcr, kMcrLoop);
  uart.write(kRbrThr, 'z');
  assert_true(uart.output.empty());
  assert_int_equal(uart.read(kLsr), kLsrTransmitterIdle | kLsrDataReady);
  assert_int_equal(uart.read(kRbrThr), 'z');
  assert_int_equal(uart.read(kLsr), kLsrTransmitterIdle);

  uart.write(kMcr, 0x08);
  uart.write(kRbrThr, 'y');
  assert_string_equal(uart.output.c_str(), "y");
  assert_int_equal(uart.read(kLsr), kLsrTransmitterIdle);
}

// 16550A data sheet, MCR bit 4: "In the diagnostic mode, the receiver and transmitter
// interrupts are fully operational": a looped-back byte is received data like any other.
static void loopback_data_raises_received_data_interrupt(void**) {
  Uart uart;
  uart.write(kIer, kIerRdi);
  uart.write(kMcr, kMcrLoop);
  uart.write(kRbrThr, 'z');
  assert_int_equal(uart.read(kIirFcr), kIirRdi);
  assert_int_equal(uart.interrupts, 1);
}

static void fifo_enable_shows_in_iir(void**) {
  Uart uart;
  uart.write(kIirFcr, 0x01);
  assert_int_equal(uart.read(kIirFcr), kIirFifos | kIirNone);
  uart.write(kIer, kIerThri);
  assert_int_equal(uart.read(kIirFcr), kIirFifos | kIirThri);
  uart.write(kIer, kIerRdi);
  uart.push("a");
  assert_int_equal(uart.read(kIirFcr), kIirFifos | kIirRdi);
  uart.read(kRbrThr);
  uart.write(kIirFcr, 0x00);
  assert_int_equal(uart.read(kIirFcr), kIirNone);
}

// FCR bit 1 clears the receive FIFO on hardware; here the queue is the workload's stdin and
// must survive the driver's start-up.
static void fifo_reset_keeps_queued_input(void**) {
  Uart uart;
  uart.push("abc");
  uart.write(kIirFcr, 0x07);
  assert_int_equal(uart.read(kLsr), kLsrTransmitterIdle | kLsrDataReady);
  assert_int_equal(uart.read(kRbrThr), 'a');
  assert_int_equal(uart.read(kRbrThr), 'b');
  assert_int_equal(uart.read(kRbrThr), 'c');
}

static void input_is_bounded(void**) {
  Uart uart;
  assert_int_equal(uart.serial.inputSpace(), Serial8250::kInputCapacity);
  std::string big(Serial8250::kInputCapacity + 10, 'x');
  big.front() = 'F';
  big[Serial8250::kInputCapacity - 1] = 'L';
  assert_int_equal(uart.push(big), Serial8250::kInputCapacity);
  assert_int_equal(uart.serial.inputSpace(), 0);
  assert_int_equal(uart.push("more"), 0);

  assert_int_equal(uart.read(kRbrThr), 'F');
  assert_int_equal(uart.serial.inputSpace(), 1);
  assert_int_equal(uart.push("12"), 1);
  for (std::size_t i = 1; i < Serial8250::kInputCapacity - 1; ++i) {
    uart.read(kRbrThr);
  }
  assert_int_equal(uart.read(kRbrThr), 'L');
  assert_int_equal(uart.read(kRbrThr), '1');
  assert_int_equal(uart.read(kLsr), kLsrTransmitterIdle);
}

// Written loopback bytes share the bound.
static void loopback_input_is_bounded(void**) {
  Uart uart;
  uart.push(std::string(Serial8250::kInputCapacity, 'x'));
  uart.write(kMcr, kMcrLoop);
  uart.write(kRbrThr, 'z');
  assert_int_equal(uart.serial.inputSpace(), 0);
}

static void input_drained_once_the_guest_read_everything(void**) {
  Uart uart;
  uart.push("ab");
  assert_int_equal(uart.read(kRbrThr), 'a');
  assert_int_equal(uart.drained, 0);
  assert_int_equal(uart.read(kRbrThr), 'b');
  assert_int_equal(uart.drained, 1);
  // Reading an empty receiver is not another drain.
  assert_int_equal(uart.read(kRbrThr), 0);
  assert_int_equal(uart.drained, 1);
  uart.push("c");
  uart.read(kRbrThr);
  assert_int_equal(uart.drained, 2);
}

static void input_drained_callback_is_optional(void**) {
  int interrupts = 0;
  Serial8250 serial([](std::uint8_t) {}, [&] { ++interrupts; });
  const std::uint8_t byte = 'k';
  assert_int_equal(serial.pushInput({&byte, 1}), 1);
  std::uint8_t value = 0;
  serial.read(kRbrThr, {&value, 1});
  assert_int_equal(value, 'k');
}

static void wide_and_out_of_range_accesses(void**) {
  Uart uart;
  uart.write(kScr, 0x42);
  std::uint8_t wide[4] = {0xee, 0xee, 0xee, 0xee};
  uart.serial.read(kScr, wide);
  assert_int_equal(wide[0], 0x42);
  assert_int_equal(wide[1], 0);
  assert_int_equal(wide[3], 0);
  // Only the first byte of a wide write reaches the register.
  const std::uint8_t pair[2] = {'o', 'k'};
  uart.serial.write(kRbrThr, pair);
  assert_string_equal(uart.output.c_str(), "o");

  assert_int_equal(uart.read(8), 0xff);
  uart.write(8, 0x12);
  uart.serial.write(kRbrThr, {});
  assert_string_equal(uart.output.c_str(), "o");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(registers_after_reset),
      cmocka_unit_test(transmit_goes_to_output),
      cmocka_unit_test(enabling_thri_raises_an_interrupt),
      cmocka_unit_test(each_transmitted_byte_raises_thri),
      cmocka_unit_test(thre_without_thri_is_not_reported),
      cmocka_unit_test(received_data_interrupt),
      cmocka_unit_test(input_without_rdi_raises_nothing),
      cmocka_unit_test(enabling_rdi_with_input_queued_raises_an_interrupt),
      cmocka_unit_test(received_data_outranks_thre),
      cmocka_unit_test(divisor_latch),
      cmocka_unit_test(interrupt_enable_keeps_four_bits),
      cmocka_unit_test(line_and_modem_control_read_back),
      cmocka_unit_test(scratch_register),
      cmocka_unit_test(loopback_modem_status),
      cmocka_unit_test(loopback_returns_transmitted_data),
      cmocka_unit_test(loopback_data_raises_received_data_interrupt),
      cmocka_unit_test(fifo_enable_shows_in_iir),
      cmocka_unit_test(fifo_reset_keeps_queued_input),
      cmocka_unit_test(input_is_bounded),
      cmocka_unit_test(loopback_input_is_bounded),
      cmocka_unit_test(input_drained_once_the_guest_read_everything),
      cmocka_unit_test(input_drained_callback_is_optional),
      cmocka_unit_test(wide_and_out_of_range_accesses),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

#include "vmm/devices/serial_8250.h"

#include <algorithm>

namespace tandem::vmm {
namespace {

// Register offsets and bits, as named in the 16550A data sheet (and Linux's serial_reg.h).
constexpr std::uint64_t kData = 0;             // RBR/THR, or DLL with DLAB
constexpr std::uint64_t kInterruptEnable = 1;  // IER, or DLM with DLAB
constexpr std::uint64_t kInterruptId = 2;      // IIR on read, FCR on write
constexpr std::uint64_t kLineControl = 3;
constexpr std::uint64_t kModemControl = 4;
constexpr std::uint64_t kLineStatus = 5;
constexpr std::uint64_t kModemStatus = 6;
constexpr std::uint64_t kScratch = 7;

constexpr std::uint8_t kIerReceivedData = 0x01;
constexpr std::uint8_t kIerTransmitterEmpty = 0x02;
constexpr std::uint8_t kIerMask = 0x0f;

constexpr std::uint8_t kIirNoInterrupt = 0x01;
constexpr std::uint8_t kIirTransmitterEmpty = 0x02;
constexpr std::uint8_t kIirReceivedData = 0x04;
constexpr std::uint8_t kIirFifosEnabled = 0xc0;

constexpr std::uint8_t kFcrEnableFifo = 0x01;

constexpr std::uint8_t kLcrDivisorLatch = 0x80;

constexpr std::uint8_t kMcrDtr = 0x01;
constexpr std::uint8_t kMcrRts = 0x02;
constexpr std::uint8_t kMcrOut1 = 0x04;
constexpr std::uint8_t kMcrOut2 = 0x08;
constexpr std::uint8_t kMcrLoopback = 0x10;

constexpr std::uint8_t kLsrDataReady = 0x01;
constexpr std::uint8_t kLsrTransmitHoldingEmpty = 0x20;
constexpr std::uint8_t kLsrTransmitterEmpty = 0x40;

constexpr std::uint8_t kMsrCts = 0x10;
constexpr std::uint8_t kMsrDsr = 0x20;
constexpr std::uint8_t kMsrRi = 0x40;
constexpr std::uint8_t kMsrDcd = 0x80;

}  // namespace

Serial8250::Serial8250(std::function<void(std::uint8_t)> output, std::function<void()> interrupt,
                       std::function<void()> inputDrained)
    : output_(std::move(output)),
      interrupt_(std::move(interrupt)),
      inputDrained_(std::move(inputDrained)) {}

std::size_t Serial8250::pushInput(std::span<const std::uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  std::size_t accepted = std::min(bytes.size(), kInputCapacity - input_.size());
  bool wasEmpty = input_.empty();
  input_.insert(input_.end(), bytes.begin(), bytes.begin() + static_cast<long>(accepted));
  if (wasEmpty && accepted > 0 && (interruptEnable_ & kIerReceivedData)) {
    interrupt_();
  }
  return accepted;
}

std::size_t Serial8250::inputSpace() const {
  std::lock_guard lock(mutex_);
  return kInputCapacity - input_.size();
}

void Serial8250::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  std::lock_guard lock(mutex_);
  std::fill(data.begin(), data.end(), 0);
  if (!data.empty()) {
    data[0] = readRegister(offset);
  }
}

void Serial8250::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  std::lock_guard lock(mutex_);
  if (!data.empty()) {
    writeRegister(offset, data[0]);
  }
}

bool Serial8250::loopback() const {
  return (modemControl_ & kMcrLoopback) != 0;
}

std::uint8_t Serial8250::modemStatus() const {
  if (!loopback()) {
    // A cable with the other end ready: carrier, data set ready, clear to send.
    return kMsrDcd | kMsrDsr | kMsrCts;
  }
  // In loopback the modem outputs feed the modem inputs; Linux's probe checks exactly this.
  std::uint8_t status = 0;
  status |= (modemControl_ & kMcrDtr) ? kMsrDsr : 0;
  status |= (modemControl_ & kMcrRts) ? kMsrCts : 0;
  status |= (modemControl_ & kMcrOut1) ? kMsrRi : 0;
  status |= (modemControl_ & kMcrOut2) ? kMsrDcd : 0;
  return status;
}

std::uint8_t Serial8250::interruptIdentification() {
  std::uint8_t fifoBits = fifoEnabled_ ? kIirFifosEnabled : 0;
  if ((interruptEnable_ & kIerReceivedData) && !input_.empty()) {
    return kIirReceivedData | fifoBits;
  }
  if ((interruptEnable_ & kIerTransmitterEmpty) && transmitterEmptyPending_) {
    // Reading IIR acknowledges a transmitter-empty interrupt (16550A data sheet, table 4).
    transmitterEmptyPending_ = false;
    return kIirTransmitterEmpty | fifoBits;
  }
  return kIirNoInterrupt | fifoBits;
}

std::uint8_t Serial8250::readRegister(std::uint64_t offset) {
  bool divisorLatch = (lineControl_ & kLcrDivisorLatch) != 0;
  switch (offset) {
    case kData: {
      if (divisorLatch) {
        return divisorLow_;
      }
      if (input_.empty()) {
        return 0;
      }
      std::uint8_t byte = input_.front();
      input_.pop_front();
      if (input_.empty() && inputDrained_) {
        inputDrained_();
      }
      return byte;
    }
    case kInterruptEnable:
      return divisorLatch ? divisorHigh_ : interruptEnable_;
    case kInterruptId:
      return interruptIdentification();
    case kLineControl:
      return lineControl_;
    case kModemControl:
      return modemControl_;
    case kLineStatus:
      return static_cast<std::uint8_t>((input_.empty() ? 0 : kLsrDataReady) |
                                       kLsrTransmitHoldingEmpty | kLsrTransmitterEmpty);
    case kModemStatus:
      return modemStatus();
    case kScratch:
      return scratch_;
    default:
      return 0xff;
  }
}

void Serial8250::writeRegister(std::uint64_t offset, std::uint8_t value) {
  bool divisorLatch = (lineControl_ & kLcrDivisorLatch) != 0;
  switch (offset) {
    case kData:
      if (divisorLatch) {
        divisorLow_ = value;
        return;
      }
      if (loopback()) {
        bool wasEmpty = input_.empty();
        if (input_.size() < kInputCapacity) {
          input_.push_back(value);
        }
        if (wasEmpty && (interruptEnable_ & kIerReceivedData)) {
          interrupt_();
        }
      } else {
        output_(value);
      }
      transmitterEmptyPending_ = true;
      if (interruptEnable_ & kIerTransmitterEmpty) {
        interrupt_();
      }
      return;
    case kInterruptEnable: {
      if (divisorLatch) {
        divisorHigh_ = value;
        return;
      }
      std::uint8_t enabled = static_cast<std::uint8_t>(value & ~interruptEnable_);
      interruptEnable_ = value & kIerMask;
      // Enabling the transmitter-empty interrupt while the transmitter is empty (always, here)
      // raises it at once; the 8250 driver's start-up relies on that.
      if (enabled & kIerTransmitterEmpty) {
        transmitterEmptyPending_ = true;
      }
      if (((enabled & kIerTransmitterEmpty) && transmitterEmptyPending_) ||
          ((enabled & kIerReceivedData) && !input_.empty())) {
        interrupt_();
      }
      return;
    }
    case kInterruptId:
      // A receive-FIFO clear is not applied to the queue: it holds the sender's backlog, not
      // just the 16-byte FIFO, and dropping a workload's stdin would be worse than not
      // modelling a reset no driver depends on.
      fifoEnabled_ = (value & kFcrEnableFifo) != 0;
      return;
    case kLineControl:
      lineControl_ = value;
      return;
    case kModemControl:
      modemControl_ = value & 0x1f;
      return;
    case kScratch:
      scratch_ = value;
      return;
    default:
      return;
  }
}

}  // namespace tandem::vmm

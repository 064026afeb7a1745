// A 16550A UART as Linux's 8250 driver sees it: transmit is instant (every byte written goes
// straight to `output`), receive is a bounded queue fed by the VMM. Enough of the modem and
// loopback registers is modelled for the driver's probe to identify a 16550A.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>

#include "vmm/io_bus.h"

namespace tandem::vmm {

inline constexpr std::uint64_t kSerialRegisterCount = 8;

class Serial8250 : public IoHandler {
 public:
  // `interrupt` raises the UART's IRQ as an edge. `inputDrained` is called when the guest
  // has read every queued input byte, so the VMM can feed more.
  Serial8250(std::function<void(std::uint8_t)> output, std::function<void()> interrupt,
             std::function<void()> inputDrained = {});

  // Queues bytes for the guest; returns how many fitted (the queue is bounded so a large stdin
  // waits for the guest instead of filling the VMM's memory).
  std::size_t pushInput(std::span<const std::uint8_t> bytes);
  std::size_t inputSpace() const;

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  static constexpr std::size_t kInputCapacity = 64 * 1024;

 private:
  std::uint8_t readRegister(std::uint64_t offset);
  void writeRegister(std::uint64_t offset, std::uint8_t value);
  std::uint8_t interruptIdentification();
  std::uint8_t modemStatus() const;
  bool loopback() const;

  std::function<void(std::uint8_t)> output_;
  std::function<void()> interrupt_;
  std::function<void()> inputDrained_;

  mutable std::mutex mutex_;
  std::deque<std::uint8_t> input_;
  std::uint8_t interruptEnable_ = 0;
  std::uint8_t lineControl_ = 0x03;   // 8 data bits, as after a reset
  std::uint8_t modemControl_ = 0x08;  // OUT2, which gates the IRQ on a PC
  std::uint8_t scratch_ = 0;
  std::uint8_t divisorLow_ = 0x0c;  // 9600 baud
  std::uint8_t divisorHigh_ = 0;
  bool fifoEnabled_ = false;
  bool transmitterEmptyPending_ = false;
};

}  // namespace tandem::vmm

// The stdio framing of guest_protocol.h as pure code, shared by the VMM and the guest init:
// each direction has an encoder and an incremental decoder that takes bytes split anywhere,
// including between an escape byte and its code.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "common/result.h"
#include "vmm/guest_protocol.h"

namespace tandem::guest {

enum class OutputStream : std::uint8_t { kStdout, kStderr };

// Guest to VMM, in the guest: the workload's output, tagged with its stream.
class OutputEncoder {
 public:
  // Appends `bytes` of `stream` to `framed`, with a select marker only when the stream differs
  // from the previous call's: every marker costs a VM exit per byte on the UART.
  void encode(OutputStream stream, std::span<const std::uint8_t> bytes,
              std::vector<std::uint8_t>& framed);

 private:
  OutputStream current_ = OutputStream::kStdout;
};

struct OutputChunk {
  OutputStream stream;
  std::vector<std::uint8_t> bytes;
};

// Guest to VMM, in the guest: `credits` input acknowledgements (guest_protocol.h). They do not
// change the stream that output bytes belong to.
void encodeInputCredits(std::size_t credits, std::vector<std::uint8_t>& framed);

// Guest to VMM, in the VMM. The guest is not trusted: an unknown escape code is an error, but
// decoding goes on past it.
class OutputDecoder {
 public:
  // Appends the decoded bytes of `framed` to `chunks`, one chunk per run of one stream, and
  // counts input credits. Returns an error naming the first unknown escape code; that pair is
  // dropped and the rest decoded.
  Status decode(std::span<const std::uint8_t> framed, std::vector<OutputChunk>& chunks);

  // The input credits decoded since the last call.
  std::size_t takeInputCredits() { return std::exchange(inputCredits_, 0); }

 private:
  OutputStream current_ = OutputStream::kStdout;
  bool escaped_ = false;
  std::size_t inputCredits_ = 0;
};

// Stdin flow control in the VMM: how many more framed bytes the guest can be sent now.
class InputWindow {
 public:
  std::size_t room() const { return kInputWindowBytes + credited_ * kInputCreditBytes - sent_; }
  void sent(std::size_t bytes) { sent_ += bytes; }
  void credit(std::size_t credits) { credited_ += credits; }

 private:
  std::size_t sent_ = 0;
  std::size_t credited_ = 0;
};

// Stdin flow control in the guest: turns the bytes taken off COM1 into credits to send.
class InputAcknowledger {
 public:
  // Returns how many credits `bytes` more complete.
  std::size_t took(std::size_t bytes) {
    pending_ += bytes;
    std::size_t credits = pending_ / kInputCreditBytes;
    pending_ %= kInputCreditBytes;
    return credits;
  }

 private:
  std::size_t pending_ = 0;
};

// VMM to guest, in the VMM: the workload's stdin, then end-of-input.
void encodeInput(std::span<const std::uint8_t> bytes, std::vector<std::uint8_t>& framed);
void encodeEndOfInput(std::vector<std::uint8_t>& framed);

// VMM to guest, in the guest.
class InputDecoder {
 public:
  // Appends the data bytes of `framed` to `data`. Bytes after end-of-input are ignored: the
  // workload's stdin is closed by then. An unknown escape code is dropped and reported as an
  // error after the rest is decoded.
  Status decode(std::span<const std::uint8_t> framed, std::vector<std::uint8_t>& data);

  bool ended() const { return ended_; }

 private:
  bool escaped_ = false;
  bool ended_ = false;
};

}  // namespace tandem::guest

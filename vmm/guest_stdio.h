// The stdio framing of guest_protocol.h as pure code, shared by the VMM and the guest init:
// each direction has an encoder and an incremental decoder that takes bytes split anywhere,
// including between an escape byte and its code.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"

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

// Guest to VMM, in the VMM. The guest is not trusted: an unknown escape code is an error, but
// decoding goes on past it.
class OutputDecoder {
 public:
  // Appends the decoded bytes of `framed` to `chunks`, one chunk per run of one stream. Returns
  // an error naming the first unknown escape code; that pair is dropped and the rest decoded.
  Status decode(std::span<const std::uint8_t> framed, std::vector<OutputChunk>& chunks);

 private:
  OutputStream current_ = OutputStream::kStdout;
  bool escaped_ = false;
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

#include "vmm/guest_stdio.h"

#include <cstdio>
#include <optional>
#include <string>

#include "vmm/guest_protocol.h"

namespace tandem::guest {

namespace {

void appendEscaped(std::span<const std::uint8_t> bytes, std::vector<std::uint8_t>& framed) {
  for (std::uint8_t byte : bytes) {
    framed.push_back(byte);
    if (byte == kEscape) {
      framed.push_back(kEscape);
    }
  }
}

Error unknownCode(const char* direction, std::uint8_t code) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", code);
  return Error(std::string("stdio framing ") + direction + ": unknown escape code " + hex +
               " (the VMM and the guest init disagree on vmm/guest_protocol.h)");
}

}  // namespace

void OutputEncoder::encode(OutputStream stream, std::span<const std::uint8_t> bytes,
                           std::vector<std::uint8_t>& framed) {
  if (bytes.empty()) {
    return;
  }
  if (stream != current_) {
    framed.push_back(kEscape);
    framed.push_back(stream == OutputStream::kStdout ? kSelectStdout : kSelectStderr);
    current_ = stream;
  }
  appendEscaped(bytes, framed);
}

Status OutputDecoder::decode(std::span<const std::uint8_t> framed,
                             std::vector<OutputChunk>& chunks) {
  std::optional<Error> firstError;
  // Consecutive bytes of one stream share a chunk, even across markers that change nothing.
  OutputChunk* open = nullptr;
  auto emit = [&](std::uint8_t byte) {
    if (open == nullptr || open->stream != current_) {
      open = &chunks.emplace_back(OutputChunk{current_, {}});
    }
    open->bytes.push_back(byte);
  };
  for (std::uint8_t byte : framed) {
    if (!escaped_) {
      if (byte == kEscape) {
        escaped_ = true;
      } else {
        emit(byte);
      }
      continue;
    }
    escaped_ = false;
    switch (byte) {
      case kEscape:
        emit(byte);
        break;
      case kSelectStdout:
        current_ = OutputStream::kStdout;
        break;
      case kSelectStderr:
        current_ = OutputStream::kStderr;
        break;
      case kInputCredit:
        ++inputCredits_;
        break;
      default:
        if (!firstError) {
          firstError = unknownCode("from the guest", byte);
        }
    }
  }
  if (firstError) {
    return std::move(*firstError);
  }
  return okStatus();
}

void encodeInputCredits(std::size_t credits, std::vector<std::uint8_t>& framed) {
  for (std::size_t i = 0; i < credits; ++i) {
    framed.push_back(kEscape);
    framed.push_back(kInputCredit);
  }
}

void encodeInput(std::span<const std::uint8_t> bytes, std::vector<std::uint8_t>& framed) {
  appendEscaped(bytes, framed);
}

void encodeEndOfInput(std::vector<std::uint8_t>& framed) {
  framed.push_back(kEscape);
  framed.push_back(kEndOfInput);
}

Status InputDecoder::decode(std::span<const std::uint8_t> framed, std::vector<std::uint8_t>& data) {
  std::optional<Error> firstError;
  for (std::uint8_t byte : framed) {
    if (ended_) {
      break;
    }
    if (!escaped_) {
      if (byte == kEscape) {
        escaped_ = true;
      } else {
        data.push_back(byte);
      }
      continue;
    }
    escaped_ = false;
    if (byte == kEscape) {
      data.push_back(byte);
    } else if (byte == kEndOfInput) {
      ended_ = true;
    } else if (!firstError) {
      firstError = unknownCode("from the VMM", byte);
    }
  }
  if (firstError) {
    return std::move(*firstError);
  }
  return okStatus();
}

}  // namespace tandem::guest

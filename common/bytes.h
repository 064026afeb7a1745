// Text seen as the bytes it is made of, for interfaces that take byte spans (guest memory, cpio
// sinks, framed channels); no copy is made, so the text must outlive the span.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace tandem {

inline std::span<const std::uint8_t> bytesOf(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

}  // namespace tandem

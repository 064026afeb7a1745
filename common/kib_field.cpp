#include "common/kib_field.h"

#include <charconv>

namespace tandem {

std::optional<std::uint64_t> kibField(std::string_view text, std::string_view key) {
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    std::string_view line = text.substr(at, end == std::string_view::npos ? end : end - at);
    if (line.starts_with(key)) {
      line.remove_prefix(key.size());
      line.remove_prefix(std::min(line.find_first_not_of(" \t"), line.size()));
      std::uint64_t kib = 0;
      auto [stop, error] = std::from_chars(line.data(), line.data() + line.size(), kib);
      if (error != std::errc() || stop == line.data()) return std::nullopt;
      return kib * 1024;
    }
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  return std::nullopt;
}

}  // namespace tandem

// Splitting text at a separator, every field kept (empty ones too, so that "a,,b" has three and
// a parser can refuse the empty one).
#pragma once

#include <string_view>
#include <vector>

namespace tandem {

inline std::vector<std::string_view> splitFields(std::string_view text, char separator) {
  std::vector<std::string_view> fields;
  for (;;) {
    std::size_t at = text.find(separator);
    fields.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return fields;
    text = text.substr(at + 1);
  }
}

}  // namespace tandem

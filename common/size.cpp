#include "common/size.h"

#include <cstdio>

#include <cctype>
#include <limits>

namespace tandem {

namespace {

// Splits "12.25" into whole and fractional parts, scaled to `scale` (a power of ten >= 1).
Result<std::uint64_t> parseScaledDecimal(std::string_view digits, std::uint64_t scale,
                                         std::string_view original) {
  auto bad = [&] {
    return Error("invalid number \"" + std::string(original) + "\": expected digits like 1.5");
  };
  if (digits.empty()) {
    return bad();
  }
  std::uint64_t whole = 0;
  std::size_t i = 0;
  for (; i < digits.size() && digits[i] != '.'; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(digits[i]))) {
      return bad();
    }
    if (whole > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) {
      return Error("number \"" + std::string(original) + "\" is too large");
    }
    whole = whole * 10 + static_cast<std::uint64_t>(digits[i] - '0');
  }
  if (whole > std::numeric_limits<std::uint64_t>::max() / scale) {
    return Error("number \"" + std::string(original) + "\" is too large");
  }
  std::uint64_t result = whole * scale;
  if (i < digits.size()) {
    ++i;
    if (i == digits.size() || i == 1) {
      return bad();
    }
    std::uint64_t place = scale;
    for (; i < digits.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(digits[i]))) {
        return bad();
      }
      place /= 10;
      result += place * static_cast<std::uint64_t>(digits[i] - '0');
    }
  }
  return result;
}

}  // namespace

Result<std::uint64_t> parseSize(std::string_view text) {
  std::string_view digits = text;
  if (!digits.empty() && (digits.back() == 'b' || digits.back() == 'B')) {
    digits.remove_suffix(1);
  }
  std::uint64_t unit = 1;
  if (!digits.empty()) {
    switch (std::tolower(static_cast<unsigned char>(digits.back()))) {
      case 'k':
        unit = 1ULL << 10;
        break;
      case 'm':
        unit = 1ULL << 20;
        break;
      case 'g':
        unit = 1ULL << 30;
        break;
      case 't':
        unit = 1ULL << 40;
        break;
      default:
        break;
    }
    if (unit != 1) {
      digits.remove_suffix(1);
    }
  }
  // Fractions are allowed with a unit ("1.5g"), computed in 1/1024 steps of that unit.
  auto scaled = parseScaledDecimal(digits, 1000, text);
  if (!scaled) {
    return Error("invalid size \"" + std::string(text) +
                 "\": expected a number with an optional unit k, m, g or t (e.g. 32M)");
  }
  std::uint64_t thousandths = *scaled;
  if (thousandths / 1000 > std::numeric_limits<std::uint64_t>::max() / unit) {
    return Error("size \"" + std::string(text) + "\" is too large");
  }
  std::uint64_t bytes = (thousandths / 1000) * unit + (thousandths % 1000) * unit / 1000;
  return bytes;
}

Result<std::uint64_t> parseMilli(std::string_view text) {
  return parseScaledDecimal(text, 1000, text);
}

std::string formatSize(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  std::size_t unit = 0;
  while (unit + 1 < std::size(kUnits) && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++unit;
  }
  return std::to_string(bytes) + " " + kUnits[unit];
}

std::string formatApproximateSize(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (unit + 1 < std::size(kUnits) && value >= 1024) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  if (unit == 0 || value >= 100 ||
      value == static_cast<double>(static_cast<std::uint64_t>(value))) {
    std::snprintf(text, sizeof text, "%.0f %s", value, kUnits[unit]);
  } else {
    std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  }
  return text;
}

}  // namespace tandem

// Human-readable sizes as docker takes them: 32M, 1.5g, 512k, 4096 (bytes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tandem {

// Binary units (k = 1024). Accepts an optional trailing "b"/"B"; rejects negatives and overflow.
Result<std::uint64_t> parseSize(std::string_view text);

// Formats bytes as the largest whole binary unit, e.g. 33554432 -> "32 MiB".
std::string formatSize(std::uint64_t bytes);

// For a reader rather than a parser: the largest unit the size reaches, one decimal when it
// helps ("22.9 GiB", "392 KiB", "512 B").
std::string formatApproximateSize(std::uint64_t bytes);

// Parses a decimal like "1.5" into thousandths (1500) without floating point rounding surprises.
Result<std::uint64_t> parseMilli(std::string_view text);

}  // namespace tandem

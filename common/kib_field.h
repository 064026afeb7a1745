// The "Key:   1234 kB" lines of /proc/meminfo and /proc/PID/status, read the one way.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tandem {

// The value of `key` (with its colon: "MemTotal:", "VmRSS:") in bytes, from a line that begins
// with it; nullopt when no line does or its value is not a number.
std::optional<std::uint64_t> kibField(std::string_view text, std::string_view key);

}  // namespace tandem

#include "vmm/process_memory.h"

#include <charconv>

#include "common/file.h"

namespace tandem::vmm {
namespace {

// "Rss:                 123 kB" -> 123 * 1024, or nothing when `line` is another field.
bool fieldBytes(std::string_view line, std::string_view name, std::uint64_t& bytes) {
  if (line.substr(0, name.size()) != name) {
    return false;
  }
  auto digits = line.find_first_of("0123456789", name.size());
  if (digits == std::string_view::npos) {
    return false;
  }
  std::uint64_t kib = 0;
  std::from_chars(line.data() + digits, line.data() + line.size(), kib);
  bytes = kib * 1024;
  return true;
}

}  // namespace

MemoryUse memoryOutside(std::string_view smaps, std::uint64_t excludeStart,
                        std::uint64_t excludeEnd) {
  MemoryUse use;
  bool counting = true;
  while (!smaps.empty()) {
    auto end = smaps.find('\n');
    std::string_view line = smaps.substr(0, end);
    smaps = end == std::string_view::npos ? std::string_view() : smaps.substr(end + 1);
    // A mapping's header line starts with its hex range "start-end".
    auto dash = line.find('-');
    if (dash != std::string_view::npos && dash > 0 &&
        line.find_first_not_of("0123456789abcdef") == dash) {
      std::uint64_t start = 0;
      std::from_chars(line.data(), line.data() + dash, start, 16);
      counting = start < excludeStart || start >= excludeEnd;
      continue;
    }
    std::uint64_t bytes = 0;
    if (!counting) {
      continue;
    }
    if (fieldBytes(line, "Rss:", bytes)) {
      use.rssBytes += bytes;
    } else if (fieldBytes(line, "Pss:", bytes)) {
      use.pssBytes += bytes;
    }
  }
  return use;
}

Result<MemoryUse> ownMemoryOutside(std::uint64_t excludeStart, std::uint64_t excludeEnd) {
  TANDEM_ASSIGN_OR_RETURN(std::string smaps, readFile("/proc/self/smaps"));
  return memoryOutside(smaps, excludeStart, excludeEnd);
}

}  // namespace tandem::vmm

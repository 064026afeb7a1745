#include "tools/guest-init/meminfo.h"

#include <cstdlib>
#include <string>
#include <string_view>

#include "common/file.h"

namespace tandem::guest_init {
namespace {

std::uint64_t meminfoBytes(const std::string& meminfo, std::string_view key) {
  auto at = meminfo.find(key);
  if (at == std::string::npos) return 0;
  return std::strtoull(meminfo.c_str() + at + key.size(), nullptr, 10) * 1024;
}

}  // namespace

void addGuestMemory(guest::ExecExit& report) {
  if (auto meminfo = readFile("/proc/meminfo")) {
    report.guestMemoryTotalBytes = meminfoBytes(*meminfo, "MemTotal:");
    report.guestMemoryAvailableBytes = meminfoBytes(*meminfo, "MemAvailable:");
  }
}

}  // namespace tandem::guest_init

#include "tools/guest-init/meminfo.h"

#include "common/file.h"
#include "common/kib_field.h"

namespace tandem::guest_init {

void addGuestMemory(guest::ExecExit& report) {
  if (auto meminfo = readFile("/proc/meminfo")) {
    report.guestMemoryTotalBytes = kibField(*meminfo, "MemTotal:").value_or(0);
    report.guestMemoryAvailableBytes = kibField(*meminfo, "MemAvailable:").value_or(0);
  }
}

}  // namespace tandem::guest_init

#include "tools/guest-init/status_port.h"

#include <sys/io.h>

#include <cstdio>
#include <string>

namespace tandem::guest_init {

namespace {

const char* kindName(guest::StatusKind kind) {
  switch (kind) {
    case guest::StatusKind::kInitStarted:
      return "init-started";
    case guest::StatusKind::kExited:
      return "exited";
    case guest::StatusKind::kSignaled:
      return "signaled";
    case guest::StatusKind::kInitFailed:
      return "init-failed";
    case guest::StatusKind::kWorkloadStarted:
      return "workload-started";
  }
  return "unknown";
}

}  // namespace

Result<StatusPort> StatusPort::open() {
  if (::ioperm(guest::kStatusPort, sizeof(std::uint32_t), 1) != 0) {
    int err = errno;
    char port[8];
    std::snprintf(port, sizeof port, "0x%x", guest::kStatusPort);
    std::string what = std::string("cannot reach the VMM's status port ") + port + " with ioperm";
    if (err == ENOSYS) {
      what += " (the guest kernel needs CONFIG_X86_IOPL_IOPERM=y)";
    }
    return Error::fromErrno(what, err);
  }
  return StatusPort(-1);
}

void StatusPort::report(guest::StatusKind kind, std::uint8_t payload) const {
  report(guest::encodeStatus(kind, payload));
}

void StatusPort::report(std::uint32_t word) const {
  if (textFd_ < 0) {
    ::outl(word, guest::kStatusPort);
    return;
  }
  ::dprintf(textFd_, "tandem-guest-init: status %s %u\n", kindName(guest::statusKind(word)),
            guest::statusPayload(word));
}

}  // namespace tandem::guest_init

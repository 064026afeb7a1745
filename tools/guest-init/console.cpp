#include "tools/guest-init/console.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

namespace tandem::guest_init {

unsigned reserveStandardFds() {
  unsigned reserved = 0;
  for (int fd = 0; fd < 3; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      // open() takes the lowest free number, which is this one. "/" exists before any mount.
      if (::open("/", O_PATH) == fd) {
        reserved |= 1u << fd;
      }
    }
  }
  return reserved;
}

void attachConsole(unsigned reserved) {
  if (reserved == 0) {
    return;
  }
  int console = ::open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (console < 0) {
    return;  // the placeholders stay; messages are lost, nothing else is
  }
  for (int fd = 0; fd < 3; ++fd) {
    if (reserved & (1u << fd)) {
      ::dup2(console, fd);
    }
  }
  ::close(console);
}

void consoleMessage(std::string_view text) {
  std::string line = "tandem-guest-init: " + std::string(text) + "\n";
  // Best effort: there is nowhere else to report a console that does not take it.
  [[maybe_unused]] ssize_t n = ::write(2, line.data(), line.size());
}

}  // namespace tandem::guest_init

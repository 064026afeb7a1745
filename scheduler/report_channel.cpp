#include "scheduler/report_channel.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace tandem::scheduler {

void sendReport(int socket, const nlohmann::json& report) {
  std::string text = report.dump();
  (void)::send(socket, text.data(), text.size(), MSG_NOSIGNAL);
}

Result<std::optional<std::string>> awaitReport(int socket, int signalFd, pid_t sender,
                                               std::string_view whose) {
  for (;;) {
    pollfd fds[2] = {{socket, POLLIN, 0}, {signalFd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("cannot wait for " + std::string(whose));
    }
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(signalFd, &info, sizeof info) == sizeof info) {
        ::kill(sender, static_cast<int>(info.ssi_signo));
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buffer[65536];
      ssize_t n = ::recv(socket, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error::fromErrno("cannot read the report of " + std::string(whose));
      if (n == 0) return std::optional<std::string>();
      return std::optional<std::string>(std::string(buffer, static_cast<std::size_t>(n)));
    }
  }
}

}  // namespace tandem::scheduler

#include "container/console_proxy.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <optional>

#include "common/file.h"
#include "common/log.h"

namespace tandem::container {

namespace {

// Puts the user's terminal in raw mode for the container's pty to interpret keys, and puts it
// back however supervision ends.
class RawTerminal {
 public:
  RawTerminal() {
    if (::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios raw = saved_;
      ::cfmakeraw(&raw);
      active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
  }
  ~RawTerminal() {
    if (active_) {
      ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

void copyWindowSize(int master) {
  winsize size{};
  if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &size) == 0 ||
      ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0) {
    ::ioctl(master, TIOCSWINSZ, &size);
  }
}

// Copies what is readable now; false once the source is finished (EOF, or EIO from a pty whose
// other side has closed).
bool pump(int from, int to) {
  char buffer[16384];
  ssize_t n = ::read(from, buffer, sizeof buffer);
  if (n < 0) {
    return errno == EINTR || errno == EAGAIN;
  }
  if (n == 0) {
    return false;
  }
  return writeAll(to, std::string_view(buffer, static_cast<std::size_t>(n)), "the console").ok();
}

}  // namespace

Result<ExitStatus> superviseWorkload(pid_t pid, int signals, UniqueFd master) {
  std::optional<RawTerminal> raw;
  if (master) {
    raw.emplace();
    copyWindowSize(master.get());
    ::fcntl(master.get(), F_SETFL, ::fcntl(master.get(), F_GETFL) | O_NONBLOCK);
  }
  bool stdinOpen = master.valid();
  std::optional<ExitStatus> exited;
  while (!exited) {
    pollfd fds[3] = {{signals, POLLIN, 0},
                     {master.valid() ? master.get() : -1, POLLIN, 0},
                     {stdinOpen ? STDIN_FILENO : -1, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("cannot wait for the workload's events");
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (!pump(master.get(), STDOUT_FILENO)) {
        // The workload closed its terminal; it is exiting, and SIGCHLD will follow.
        master.reset();
      }
    }
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (!pump(STDIN_FILENO, master.get())) {
        stdinOpen = false;
      }
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(signals, &info, sizeof info) != sizeof info) {
        continue;
      }
      int sig = static_cast<int>(info.ssi_signo);
      if (sig == SIGWINCH) {
        if (master) copyWindowSize(master.get());
      } else if (sig != SIGCHLD) {
        spdlog::debug("forwarding signal {} to the workload", sig);
        ::kill(pid, sig);
      }
      int status = 0;
      pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid) {
        exited = ExitStatus::fromWaitStatus(status);
      }
    }
  }
  // Output the workload wrote just before exiting may still sit in the pty.
  while (master && pump(master.get(), STDOUT_FILENO)) {
    pollfd drain{master.get(), POLLIN, 0};
    if (::poll(&drain, 1, 0) <= 0) break;
  }
  return *exited;
}

}  // namespace tandem::container

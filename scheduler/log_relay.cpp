#include "scheduler/log_relay.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>

#include "common/file.h"
#include "common/process.h"
#include "common/workload_log.h"

namespace tandem::scheduler {

namespace {

// Where the relay's descriptors sit once everything else is closed.
constexpr int kLogFd = 3;
constexpr int kStdoutReader = 4;
constexpr int kStderrReader = 5;

std::int64_t realtimeNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void runRelay(bool copyToCaller) {
  ::prctl(PR_SET_NAME, "tandem-log", 0, 0, 0);
  // A caller's pipe whose reader left costs an EPIPE, and the copy stops; the log goes on.
  ::signal(SIGPIPE, SIG_IGN);
  if (!copyToCaller) {
    int devNull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    ::dup2(devNull, STDOUT_FILENO);
    ::dup2(devNull, STDERR_FILENO);
  }
  struct Source {
    int fd;
    LogStream stream;
    int copyTo;
  } sources[2] = {{kStdoutReader, LogStream::kStdout, copyToCaller ? STDOUT_FILENO : -1},
                  {kStderrReader, LogStream::kStderr, copyToCaller ? STDERR_FILENO : -1}};
  static char buffer[65536];
  for (;;) {
    pollfd fds[2] = {{sources[0].fd, POLLIN, 0}, {sources[1].fd, POLLIN, 0}};
    if (fds[0].fd < 0 && fds[1].fd < 0) break;
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      ::_exit(1);
    }
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(sources[i].fd, buffer, sizeof buffer);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        sources[i].fd = -1;
        continue;
      }
      std::string_view data(buffer, static_cast<std::size_t>(n));
      (void)writeAll(kLogFd, formatLogRecords(sources[i].stream, data, realtimeNs()), "the log");
      if (sources[i].copyTo >= 0 && !writeAll(sources[i].copyTo, data, "the caller")) {
        sources[i].copyTo = -1;
      }
    }
  }
  ::_exit(0);
}

}  // namespace

Result<LogRelay> LogRelay::start(const std::string& logPath, bool copyToCaller) {
  UniqueFd log(::open(logPath.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!log) {
    return Error::fromErrno("cannot open the workload's log " + logPath);
  }
  TANDEM_ASSIGN_OR_RETURN(Pipe out, makePipe());
  TANDEM_ASSIGN_OR_RETURN(Pipe err, makePipe());
  pid_t pid = ::fork();
  if (pid < 0) {
    return Error::fromErrno("cannot start the process that records the workload's output");
  }
  if (pid == 0) {
    // Moved to fixed numbers above 2, then everything else closed: above all the write ends,
    // whose copies here would keep the relay from ever seeing the end of the output.
    int fds[3] = {::fcntl(log.get(), F_DUPFD, 10), ::fcntl(out.read.get(), F_DUPFD, 10),
                  ::fcntl(err.read.get(), F_DUPFD, 10)};
    for (int i = 0; i < 3; ++i) {
      if (fds[i] < 0 || ::dup2(fds[i], kLogFd + i) < 0) ::_exit(1);
    }
    ::syscall(SYS_close_range, 6U, ~0U, 0U);
    runRelay(copyToCaller);
  }
  return LogRelay(pid, std::move(out.write), std::move(err.write));
}

Status LogRelay::wait() {
  if (pid_ <= 0) return okStatus();
  TANDEM_ASSIGN_OR_RETURN(ExitStatus status, waitForExit(pid_));
  pid_ = 0;
  if (status.signaled || status.code != 0) {
    return Error("the process that records the workload's output " + status.describe());
  }
  return okStatus();
}

}  // namespace tandem::scheduler

#include "scheduler/log_relay.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>
#include <chrono>

#include "common/file.h"
#include "common/process.h"
#include "common/size.h"
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

// Moves log → log.1 → log.2 ... (the oldest past `maxFiles` dropped) and opens a new log on
// kLogFd. On any failure the relay keeps writing where it was: output is never dropped.
void rotate(const std::string& logPath, unsigned maxFiles) {
  if (maxFiles <= 1) {
    // Only the current file is kept: it starts again empty.
    if (::ftruncate(kLogFd, 0) == 0) ::lseek(kLogFd, 0, SEEK_SET);
    return;
  }
  for (unsigned n = maxFiles - 1; n >= 1; --n) {
    std::string from = n == 1 ? logPath : logPath + "." + std::to_string(n - 1);
    ::rename(from.c_str(), (logPath + "." + std::to_string(n)).c_str());
  }
  int fresh = ::open(logPath.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fresh >= 0) {
    ::dup2(fresh, kLogFd);
    ::close(fresh);
  }
}

[[noreturn]] void runRelay(bool copyToCaller, const std::string& logPath, const LogLimits& limits) {
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
  struct stat current {};
  std::uint64_t written =
      ::fstat(kLogFd, &current) == 0 ? static_cast<std::uint64_t>(current.st_size) : 0;
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
      std::string records = formatLogRecords(sources[i].stream, data, realtimeNs());
      // Whole records only, each file kept under the limit (a record longer than the limit
      // gets a file to itself).
      std::string_view left(records);
      while (!left.empty()) {
        std::size_t take = left.size();
        if (limits.maxBytes != 0 && written + take > limits.maxBytes) {
          std::size_t room = limits.maxBytes > written ? limits.maxBytes - written : 0;
          std::size_t end = left.substr(0, room).rfind('\n');
          if (end == std::string_view::npos && written > 0) {
            rotate(logPath, limits.maxFiles);
            written = 0;
            continue;
          }
          take = end == std::string_view::npos ? left.find('\n') + 1 : end + 1;
        }
        if (writeAll(kLogFd, left.substr(0, take), "the log")) written += take;
        left.remove_prefix(take);
      }
      if (sources[i].copyTo >= 0 && !writeAll(sources[i].copyTo, data, "the caller")) {
        sources[i].copyTo = -1;
      }
    }
  }
  ::_exit(0);
}

}  // namespace

Status applyLogOption(const std::string& option, LogLimits& limits) {
  auto equals = option.find('=');
  std::string key = option.substr(0, equals);
  std::string value = equals == std::string::npos ? "" : option.substr(equals + 1);
  if (key == "max-size" && !value.empty()) {
    TANDEM_ASSIGN_OR_RETURN(limits.maxBytes, parseSize(value).context("--log-opt max-size"));
    if (limits.maxBytes < 4096) {
      return Error("--log-opt max-size must be at least 4k, not " + value);
    }
    return okStatus();
  }
  if (key == "max-file" && !value.empty()) {
    unsigned files = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), files);
    if (error != std::errc() || end != value.data() + value.size() || files < 1 || files > 100) {
      return Error("--log-opt max-file takes a number from 1 to 100, not \"" + value + "\"");
    }
    limits.maxFiles = files;
    return okStatus();
  }
  return Error("unknown --log-opt \"" + option + "\"; tandem takes max-size=SIZE and max-file=N");
}

std::vector<std::string> logFiles(const std::string& logPath, unsigned maxFiles) {
  std::vector<std::string> files;
  for (unsigned n = maxFiles > 1 ? maxFiles - 1 : 0; n >= 1; --n) {
    std::string rotated = logPath + "." + std::to_string(n);
    if (pathExists(rotated)) files.push_back(rotated);
  }
  files.push_back(logPath);
  return files;
}

Result<LogRelay> LogRelay::start(const std::string& logPath, bool copyToCaller,
                                 const LogLimits& limits) {
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
    runRelay(copyToCaller, logPath, limits);
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

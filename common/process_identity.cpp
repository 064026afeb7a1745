#include "common/process_identity.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <sstream>
#include <string>

#include "common/file.h"
#include "common/kib_field.h"

namespace tandem {

namespace {

struct ProcessStat {
  char state = '?';
  std::uint64_t userTicks = 0;    // field 14
  std::uint64_t systemTicks = 0;  // field 15
  std::uint64_t startTime = 0;    // field 22
};

std::optional<ProcessStat> readProcessStat(pid_t pid) {
  auto text = readFile("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields after it
  // are counted from the last ')'.
  auto close = text->rfind(')');
  if (close == std::string::npos || close + 2 >= text->size()) return std::nullopt;
  ProcessStat stat;
  stat.state = (*text)[close + 2];
  std::istringstream fields(text->substr(close + 2));
  std::string field;
  for (int number = 3; number <= 22 && fields >> field; ++number) {
    auto read = [&](std::uint64_t& value) {
      auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
      return error == std::errc() && end == field.data() + field.size();
    };
    if ((number == 14 && !read(stat.userTicks)) || (number == 15 && !read(stat.systemTicks))) {
      return std::nullopt;
    }
    if (number == 22) {
      if (!read(stat.startTime)) return std::nullopt;
      return stat;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> processStartTime(pid_t pid) {
  auto stat = readProcessStat(pid);
  if (!stat) return std::nullopt;
  return stat->startTime;
}

bool sameProcess(pid_t pid, std::uint64_t startTime) {
  if (pid <= 0) return false;
  auto stat = readProcessStat(pid);
  // A zombie has ended, however long its parent takes to reap it (or, orphaned under an init
  // that does not reap, never does).
  return stat && stat->startTime == startTime && stat->state != 'Z' && stat->state != 'X';
}

Result<ProcessUsage> processUsage(pid_t pid) {
  auto stat = readProcessStat(pid);
  auto status = readFile("/proc/" + std::to_string(pid) + "/status");
  if (!stat || !status) {
    return Error("process " + std::to_string(pid) + " has ended", ESRCH);
  }
  static const long ticksPerSecond = ::sysconf(_SC_CLK_TCK);
  ProcessUsage usage;
  usage.cpuNanos = (stat->userTicks + stat->systemTicks) * 1'000'000'000ull /
                   static_cast<std::uint64_t>(ticksPerSecond);
  usage.rssBytes = kibField(*status, "VmRSS:").value_or(0);
  return usage;
}

Result<UniqueFd> openProcess(pid_t pid, std::uint64_t startTime) {
  if (pid <= 0) {
    return Error("no process recorded", ESRCH);
  }
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!fd) {
    return Error::fromErrno("cannot open process " + std::to_string(pid));
  }
  // Checked after the pidfd is open: from here on the pid cannot change hands unnoticed.
  if (!sameProcess(pid, startTime)) {
    return Error("process " + std::to_string(pid) + " has ended", ESRCH);
  }
  return fd;
}

Status signalProcess(int pidfd, int signal) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0) != 0) {
    return Error::fromErrno("cannot send signal " + std::to_string(signal));
  }
  return okStatus();
}

Result<bool> waitProcessEnd(int pidfd, std::optional<std::chrono::milliseconds> timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout.value_or(std::chrono::milliseconds(0));
  for (;;) {
    int wait = -1;
    if (timeout) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      wait = static_cast<int>(std::max<std::int64_t>(0, left.count()));
    }
    pollfd ended{pidfd, POLLIN, 0};
    int ready = ::poll(&ended, 1, wait);
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) {
      return Error::fromErrno("cannot wait for a process to end");
    }
  }
}

}  // namespace tandem

#include "common/process.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstring>

namespace tandem {

ExitStatus ExitStatus::fromWaitStatus(int status) {
  ExitStatus result;
  if (WIFSIGNALED(status)) {
    result.signaled = true;
    result.signal = WTERMSIG(status);
  } else {
    result.code = WEXITSTATUS(status);
  }
  return result;
}

std::string ExitStatus::describe() const {
  if (signaled) {
    return std::string("killed by signal ") + std::to_string(signal) + " (" + sigabbrev_np(signal) +
           ")";
  }
  return "exited with code " + std::to_string(code);
}

Result<Pipe> makePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Error::fromErrno("cannot create a pipe");
  }
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Result<std::string> ownExecutablePath() {
  char target[PATH_MAX];
  ssize_t length = ::readlink("/proc/self/exe", target, sizeof target - 1);
  if (length <= 0) {
    return Error::fromErrno("cannot find tandem's own binary through /proc/self/exe");
  }
  return std::string(target, static_cast<std::size_t>(length));
}

Result<ExitStatus> waitForExit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return Error::fromErrno("cannot wait for process " + std::to_string(pid));
    }
  }
  return ExitStatus::fromWaitStatus(status);
}

}  // namespace tandem

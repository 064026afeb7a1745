#include "common/process.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "common/file.h"

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

std::vector<char*> execArgv(const std::vector<std::string>& words) {
  std::vector<char*> pointers;
  pointers.reserve(words.size() + 1);
  for (const std::string& word : words) pointers.push_back(const_cast<char*>(word.c_str()));
  pointers.push_back(nullptr);
  return pointers;
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

Status detachOutputTo(const std::string& logPath) {
  TANDEM_TRY(makeDirectories(logPath.substr(0, logPath.rfind('/')), 0700));
  TANDEM_ASSIGN_OR_RETURN(UniqueFd log,
                          openPath(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  TANDEM_ASSIGN_OR_RETURN(UniqueFd devNull, openPath("/dev/null", O_RDWR | O_CLOEXEC));
  if (::dup2(devNull.get(), STDIN_FILENO) < 0 || ::dup2(devNull.get(), STDOUT_FILENO) < 0 ||
      ::dup2(log.get(), STDERR_FILENO) < 0) {
    return Error::fromErrno("cannot point this process's output at " + logPath);
  }
  return okStatus();
}

}  // namespace tandem

#include "common/child_process.h"

#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace tandem {

sigset_t signalSet(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : signals) sigaddset(&set, signal);
  return set;
}

SignalBlock::SignalBlock(const sigset_t& signals) {
  ::pthread_sigmask(SIG_BLOCK, &signals, &original_);
}

SignalBlock::~SignalBlock() {
  ::pthread_sigmask(SIG_SETMASK, &original_, nullptr);
}

ChildGuard::~ChildGuard() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    (void)waitForExit(pid_);
  }
}

Result<ExitStatus> waitForwardingSignals(pid_t pid, int signalFd) {
  for (;;) {
    int status = 0;
    pid_t ended = ::waitpid(pid, &status, WNOHANG);
    if (ended == pid) {
      return ExitStatus::fromWaitStatus(status);
    }
    if (ended < 0 && errno != EINTR) {
      return Error::fromErrno("cannot wait for process " + std::to_string(pid));
    }
    signalfd_siginfo info{};
    ssize_t got = ::read(signalFd, &info, sizeof info);
    if (got < 0 && errno != EINTR && errno != EAGAIN) {
      return Error::fromErrno("cannot read the signals to forward to process " +
                              std::to_string(pid));
    }
    if (got == static_cast<ssize_t>(sizeof info) && info.ssi_signo != SIGCHLD) {
      ::kill(pid, static_cast<int>(info.ssi_signo));
    }
  }
}

std::string companionProgramPath(const char* environmentVariable, std::string_view name,
                                 std::string_view buildFolder) {
  if (const char* path = std::getenv(environmentVariable); path != nullptr && *path != '\0') {
    return path;
  }
  auto own = ownExecutablePath();
  std::string directory = own ? own->substr(0, own->rfind('/')) : ".";
  std::string installed = directory + "/" + std::string(name);
  // A folder of the build tree may carry the program's own name.
  if (struct stat info{}; ::stat(installed.c_str(), &info) == 0 && S_ISREG(info.st_mode)) {
    return installed;
  }
  std::string inBuildTree = directory + "/" + std::string(buildFolder) + "/" + std::string(name);
  // A tool in a folder of its own (build/tools/oci) finds its companions in sibling folders.
  std::string besideTool = directory + "/../" + std::string(buildFolder) + "/" + std::string(name);
  if (::access(inBuildTree.c_str(), X_OK) != 0 && ::access(besideTool.c_str(), X_OK) == 0) {
    return besideTool;
  }
  return inBuildTree;
}

}  // namespace tandem

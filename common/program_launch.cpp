#include "common/program_launch.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "common/process.h"
#include "common/unique_fd.h"

extern char** environ;

namespace tandem {

Result<pid_t> cloneProcess(std::uint64_t flags, const std::string& what, int cgroupFd) {
  clone_args args{};
  args.flags = flags;
  args.exit_signal = SIGCHLD;
  if (cgroupFd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<std::uint64_t>(cgroupFd);
  }
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) {
    return Error::fromErrno("cannot start " + what + " in its namespaces (clone3)");
  }
  return static_cast<pid_t>(pid);
}

Result<pid_t> launchProgram(const ProgramLaunch& launch) {
  // Built before the clone: the child of a threaded parent must not allocate.
  std::vector<char*> argv = execArgv(launch.args);
  TANDEM_ASSIGN_OR_RETURN(Pipe execError, makePipe());
  TANDEM_ASSIGN_OR_RETURN(pid_t pid,
                          cloneProcess(launch.namespaces, launch.program, launch.cgroupFd));
  if (pid == 0) {
    int failure = 0;
    for (int fd : launch.inheritedFds) {
      if (::fcntl(fd, F_SETFD, 0) != 0) {
        failure = errno;
      }
    }
    if (failure == 0 && ::sigprocmask(SIG_SETMASK, &launch.signalMask, nullptr) != 0) {
      failure = errno;
    }
    if (failure == 0) {
      ::execve(launch.program.c_str(), argv.data(), environ);
      failure = errno;
    }
    // The parent reads the errno; a short write leaves it reading end-of-file, which it takes
    // as an unknown failure once the child is reaped.
    [[maybe_unused]] ssize_t written = ::write(execError.write.get(), &failure, sizeof failure);
    ::_exit(kExitCannotExecute);
  }
  execError.write.reset();
  int failure = 0;
  ssize_t got = 0;
  do {
    got = ::read(execError.read.get(), &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  if (got == 0) {
    return pid;
  }
  (void)waitForExit(pid);
  return Error::fromErrno("cannot start " + launch.program,
                          got == static_cast<ssize_t>(sizeof failure) ? failure : EIO);
}

}  // namespace tandem

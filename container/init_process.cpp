#include "container/init_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/process.h"

namespace tandem::container {

void runInit(pid_t workload) {
  sigset_t all;
  sigfillset(&all);
  for (;;) {
    siginfo_t info{};
    int sig = ::sigwaitinfo(&all, &info);
    if (sig < 0) {
      continue;
    }
    if (sig != SIGCHLD) {
      // SIGKILL and SIGSTOP never arrive here; everything else is the workload's to handle.
      ::kill(workload, sig);
      continue;
    }
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid == workload) {
        // Exiting as PID 1 makes the kernel kill whatever the workload left behind.
        ::_exit(ExitStatus::fromWaitStatus(status).shellCode());
      }
    }
  }
}

}  // namespace tandem::container

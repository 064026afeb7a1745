#include "container/janitor.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/file.h"
#include "common/process.h"

namespace tandem::container {

namespace {

constexpr char kDismiss = 'd';

[[noreturn]] void runJanitor(int pipe, const CgroupMounts& mounts, const std::string& cgroupName,
                             const std::string& stateDir, bool removeState) {
  // Its own session, so a terminal's SIGINT or SIGHUP for the runtime's group spares it, and no
  // inherited descriptor (a test's output pipe, a terminal) is held open by it.
  ::setsid();
  ::prctl(PR_SET_NAME, "tandem-janitor", 0, 0, 0);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) {
    ::signal(sig, SIG_IGN);
  }
  sigset_t all;
  sigfillset(&all);
  ::sigprocmask(SIG_UNBLOCK, &all, nullptr);
  int devNull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd < 3 && devNull >= 0; ++fd) {
    ::dup2(devNull, fd);
  }
  if (::dup2(pipe, 3) != 3) {
    ::_exit(1);
  }
  ::syscall(SYS_close_range, 4U, ~0U, 0U);
  char byte = 0;
  ssize_t n;
  while ((n = ::read(3, &byte, 1)) < 0 && errno == EINTR) {
  }
  if (n == 1 && byte == kDismiss) {
    ::_exit(0);
  }
  auto cgroup = Cgroup::adopt(mounts, cgroupName);
  (void)cgroup.remove();
  cgroup.release();
  if (removeState) {
    (void)removeTree(stateDir);
  }
  ::_exit(0);
}

}  // namespace

Result<Janitor> Janitor::start(const CgroupMounts& mounts, const std::string& cgroupName,
                               const std::string& stateDir, bool removeState) {
  TANDEM_ASSIGN_OR_RETURN(Pipe pipe, makePipe());
  pid_t pid = ::fork();
  if (pid < 0) {
    return Error::fromErrno("cannot start the cleanup process");
  }
  if (pid == 0) {
    runJanitor(pipe.read.get(), mounts, cgroupName, stateDir, removeState);
  }
  // The janitor is not waited for: it outlives this process by design, and init reaps it.
  return Janitor(std::move(pipe.write));
}

void Janitor::dismiss() {
  if (pipe_) {
    char byte = kDismiss;
    (void)::write(pipe_.get(), &byte, 1);
    pipe_.reset();
  }
}

}  // namespace tandem::container

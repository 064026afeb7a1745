#include "tools/guest-init/spawn.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>

#include "common/file.h"
#include "common/process.h"
#include "tools/guest-init/launch_rules.h"

namespace tandem::guest_init {

namespace {

struct ChildEnds {
  int stdinRead;
  int stdoutWrite;
  int stderrWrite;
  int report;  // close-on-exec: a successful exec closes it with nothing written
};

// The reason goes where the workload's stderr would have gone; the code tells init it was
// init's failure, not the workload's exit.
[[noreturn]] void failChild(int report, int code, const std::string& reason) {
  std::string line = "tandem-guest-init: " + reason + "\n";
  [[maybe_unused]] ssize_t n = ::write(2, line.data(), line.size());
  auto byte = static_cast<std::uint8_t>(code);
  n = ::write(report, &byte, 1);
  ::_exit(code);
}

[[noreturn]] void runChild(const Workload& workload, const ChildEnds& ends,
                           std::vector<char*>& argv, std::vector<char*>& envp,
                           const ChildEntry& enter) {
  // init's reserved fds 0-2 guarantee the pipes are numbered above 2, so no dup2 here
  // overwrites another's source.
  if (::dup2(ends.stdinRead, 0) != 0 || ::dup2(ends.stdoutWrite, 1) != 1 ||
      ::dup2(ends.stderrWrite, 2) != 2) {
    failChild(ends.report, kExitRuntimeError,
              Error::fromErrno("cannot attach the workload's stdio").describe());
  }
  // init blocks SIGCHLD and SIGPIPE for itself; the workload starts with nothing blocked.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::setsid();
  if (enter) {
    if (Status entered = enter(); !entered) {
      failChild(ends.report, kExitRuntimeError, entered.error().describe());
    }
  }
  for (const auto& limit : workload.rlimits) {
    rlimit value{limit.soft, limit.hard};
    if (::setrlimit(limit.resource, &value) != 0) {
      failChild(ends.report, kExitRuntimeError,
                Error::fromErrno("cannot set the " + rlimitName(limit.resource) + " limit to " +
                                 std::to_string(limit.soft) + ":" + std::to_string(limit.hard))
                    .describe());
    }
  }
  if (::chdir(workload.workdir.c_str()) != 0) {
    if (errno != ENOENT || !makeDirectories(workload.workdir) ||
        ::chdir(workload.workdir.c_str()) != 0) {
      failChild(ends.report, kExitRuntimeError,
                Error::fromErrno("cannot change to the working directory " + workload.workdir)
                    .describe());
    }
  }
  const User& user = workload.user;
  if (::setgroups(user.additionalGids.size(), user.additionalGids.data()) != 0 ||
      ::setresgid(user.gid, user.gid, user.gid) != 0 ||
      ::setresuid(user.uid, user.uid, user.uid) != 0) {
    failChild(ends.report, kExitRuntimeError,
              Error::fromErrno("cannot switch to user " + std::to_string(user.uid) + ":" +
                               std::to_string(user.gid))
                  .describe());
  }
  // execvp searches the PATH of the environment it runs in, so that becomes the workload's.
  environ = envp.data();
  ::execvp(argv[0], argv.data());
  int err = errno;
  failChild(ends.report, execFailureCode(err),
            "exec \"" + workload.command.front() + "\": " + std::strerror(err));
}

std::vector<char*> pointersTo(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (const auto& text : strings) {
    pointers.push_back(const_cast<char*>(text.c_str()));
  }
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

Result<StartedWorkload> startWorkload(const Workload& workload, const std::vector<std::string>& env,
                                      const ChildEntry& enter) {
  TANDEM_ASSIGN_OR_RETURN(Pipe in, makePipe());
  TANDEM_ASSIGN_OR_RETURN(Pipe out, makePipe());
  TANDEM_ASSIGN_OR_RETURN(Pipe err, makePipe());
  TANDEM_ASSIGN_OR_RETURN(Pipe report, makePipe());
  if (::fcntl(in.write.get(), F_SETFL, O_NONBLOCK) != 0) {
    return Error::fromErrno("cannot make the workload's stdin pipe non-blocking");
  }
  std::vector<char*> argv = pointersTo(workload.command);
  std::vector<char*> envp = pointersTo(env);
  pid_t pid = ::fork();
  if (pid < 0) {
    return Error::fromErrno("cannot fork the workload's process");
  }
  if (pid == 0) {
    runChild(workload, {in.read.get(), out.write.get(), err.write.get(), report.write.get()}, argv,
             envp, enter);
  }
  // Only the child may hold these, so that EOF on each pipe means what it says.
  in.read.reset();
  out.write.reset();
  err.write.reset();
  report.write.reset();

  StartedWorkload started{pid, std::move(in.write), std::move(out.read), std::move(err.read),
                          std::nullopt};
  std::uint8_t code = 0;
  ssize_t n;
  do {
    n = ::read(report.read.get(), &code, 1);
  } while (n < 0 && errno == EINTR);
  if (n == 1) {
    started.failureCode = code;
  }
  return started;
}

}  // namespace tandem::guest_init

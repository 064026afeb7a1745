#include "container/container_exec.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <optional>

#include "common/cgroup.h"
#include "common/child_process.h"
#include "common/log.h"
#include "common/process.h"
#include "common/process_identity.h"
#include "common/capabilities.h"
#include "container/child_report.h"
#include "container/process_setup.h"
#include "container/seccomp.h"
#include "container/seccomp_cache.h"

namespace tandem::container {

namespace {

struct NamespaceKind {
  const char* name;  // under /proc/PID/ns
  int type;
};

// The user namespace first, so that the rest are joined with its capabilities; the mount
// namespace last, since it takes /proc/PID away.
constexpr std::array<NamespaceKind, 7> kJoinOrder{{{"user", CLONE_NEWUSER},
                                                   {"ipc", CLONE_NEWIPC},
                                                   {"uts", CLONE_NEWUTS},
                                                   {"net", CLONE_NEWNET},
                                                   {"cgroup", CLONE_NEWCGROUP},
                                                   {"pid", CLONE_NEWPID},
                                                   {"mnt", CLONE_NEWNS}}};

bool sameNamespace(int fd, const char* name) {
  struct stat theirs {};
  struct stat ours {};
  std::string own = std::string("/proc/self/ns/") + name;
  return ::fstat(fd, &theirs) == 0 && ::stat(own.c_str(), &ours) == 0 &&
         theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev;
}

}  // namespace

// Opens them all first, then checks the target is still the process it was: the descriptors
// then hold its namespaces, whatever happens to it next.
Status joinNamespacesOf(const ExecTarget& target) {
  std::vector<std::pair<UniqueFd, const NamespaceKind*>> opened;
  for (const NamespaceKind& kind : kJoinOrder) {
    std::string path = "/proc/" + std::to_string(target.pid) + "/ns/" + kind.name;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd && !sameProcess(target.pid, target.startTime)) {
      return Error("container " + target.id.substr(0, 12) + " is no longer running", ESRCH);
    }
    if (!fd) {
      return Error::fromErrno("cannot open " + path + " of container " + target.id.substr(0, 12));
    }
    opened.emplace_back(std::move(fd), &kind);
  }
  if (!sameProcess(target.pid, target.startTime)) {
    return Error("container " + target.id.substr(0, 12) + " is no longer running", ESRCH);
  }
  for (auto& [fd, kind] : opened) {
    // The host's own network or user namespace, shared with a --network host container.
    if (kind->type != CLONE_NEWNS && sameNamespace(fd.get(), kind->name)) continue;
    if (::setns(fd.get(), kind->type) != 0) {
      return Error::fromErrno(std::string("cannot join the ") + kind->name +
                              " namespace of container " + target.id.substr(0, 12));
    }
  }
  return okStatus();
}

namespace {

[[noreturn]] void fail(const ContainerProcessConfig& config, const Error& error,
                       int exitCode = kExitRuntimeError) {
  reportChildFailure(config.errorPipe, exitCode, error.describe());
}

void orFail(const ContainerProcessConfig& config, Status status) {
  if (!status) fail(config, status.error());
}

// In the container's pid namespace, as the caller's grandchild.
[[noreturn]] void startCommand(const ContainerProcessConfig& config) {
  const Workload& process = config.workload;
  // Signals from the terminal reach it through `tandem exec`, which passes them on.
  ::setsid();
  auto user = lookUpUser(process);
  if (!user) fail(config, user.error());
  std::vector<std::string> env = workloadEnvironment(process, *user);
  Executable executable = findExecutable(process.command.front(), *envValue(env, "PATH"));
  if (executable.exitCode != 0) {
    reportChildFailure(config.errorPipe, executable.exitCode, executable.problem);
  }
  orFail(config, applyRlimits(process.rlimits));
  orFail(config, dropToWorkloadPrivileges(*user, config.capabilities));
  orFail(config, sealRuntimeDescriptors());
  if (!config.seccompProgram.empty()) {
    orFail(config, installSeccompProgram(config.seccompProgram));
  }
  std::vector<char*> argv = execArgv(process.command);
  std::vector<char*> envp = execArgv(env);
  ::sigprocmask(SIG_SETMASK, &config.workloadSignalMask, nullptr);
  ::execve(executable.path.c_str(), argv.data(), envp.data());
  int err = errno;
  reportChildFailure(config.errorPipe, err == ENOENT ? kExitNotFound : kExitCannotExecute,
                     Error::fromErrno("cannot execute " + executable.path, err).describe());
}

// The caller's child: from fork to the re-exec into the protected copy.
[[noreturn]] void enterProtectedCopy(int syncSocket, int errorPipe, int stdinFd,
                                     const ExecTarget& target) {
  for (int sig = 1; sig < NSIG; ++sig) {
    ::signal(sig, SIG_DFL);
  }
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (stdinFd >= 0 && ::dup2(stdinFd, STDIN_FILENO) != STDIN_FILENO) {
    reportChildFailure(errorPipe, kExitRuntimeError, "cannot redirect stdin from /dev/null");
  }
  // A mount namespace of its own, for the read-only view of tandem; the container's replaces it.
  if (::unshare(CLONE_NEWNS) != 0) {
    reportChildFailure(errorPipe, kExitRuntimeError,
                       Error::fromErrno("cannot create a mount namespace for exec").describe());
  }
  auto self = protectedSelf();
  if (!self) reportChildFailure(errorPipe, kExitRuntimeError, self.error().describe());
  for (int fd : {syncSocket, errorPipe}) {
    ::fcntl(fd, F_SETFD, 0);
  }
  std::string syncArg = std::to_string(syncSocket);
  std::string errorArg = std::to_string(errorPipe);
  std::string pidArg = std::to_string(target.pid);
  std::string startArg = std::to_string(target.startTime);
  std::string idArg = target.id;
  char* argv[] = {const_cast<char*>("tandem"),
                  const_cast<char*>("exec-process"),
                  syncArg.data(),
                  errorArg.data(),
                  pidArg.data(),
                  startArg.data(),
                  idArg.data(),
                  nullptr};
  char* envp[] = {nullptr};
  ::execveat(self->get(), "", argv, envp, AT_EMPTY_PATH);
  reportChildFailure(errorPipe, kExitRuntimeError,
                     Error::fromErrno("cannot execute tandem's protected copy").describe());
}

}  // namespace

Result<Workload> recordedContainer(const RuntimeConfig& config, const std::string& id) {
  return readWorkloadConfig(config.stateRoot + "/containers/" + id)
      .context("reading the configuration of container " + id.substr(0, 12));
}

void continueExecProcess(const ContainerProcessConfig& config, const ExecTarget& target) {
  // Nothing in the container may read this process or open /proc/PID/exe while it is tandem.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  orFail(config, joinNamespacesOf(target));
  const std::string& workdir = config.workload.workdir;
  if (::chdir(workdir.c_str()) != 0) {
    fail(config,
         Error::fromErrno("cannot change to the working directory " + workdir + " in container " +
                          target.id.substr(0, 12)),
         kExitCannotExecute);
  }
  // Only children enter the pid namespace joined.
  pid_t child = ::fork();
  if (child < 0) {
    fail(config, Error::fromErrno("cannot start a process in container " + target.id.substr(0, 12) +
                                  "; has it just ended?"));
  }
  if (child == 0) {
    startCommand(config);
  }
  std::int32_t pid = child;
  // Its parent, `tandem exec`, is the subreaper that adopts the command when this exits.
  if (::send(config.syncSocket, &pid, sizeof pid, MSG_NOSIGNAL) != sizeof pid) {
    ::kill(child, SIGKILL);
    ::_exit(kExitRuntimeError);
  }
  ::_exit(0);
}

Result<WorkloadOutcome> execInContainer(const RuntimeConfig& config, const ExecTarget& target,
                                        Workload process, bool interactive) {
  if (process.command.empty()) {
    return Error("tandem exec needs a command", EINVAL);
  }
  process.init = false;
  process.tty = false;
  TANDEM_ASSIGN_OR_RETURN(auto capabilities, resolveCapabilities(process.capAdd, process.capDrop));
  std::vector<sock_filter> seccompProgram;
  if (process.seccomp) {
    TANDEM_ASSIGN_OR_RETURN(seccompProgram,
                            cachedSeccompProgram(config.stateRoot + "/cache", capabilities));
  }
  TANDEM_ASSIGN_OR_RETURN(CgroupMounts mounts, detectCgroupMounts());
  Cgroup cgroup = Cgroup::adopt(mounts, target.id);
  // Only joined here: the container's runtime owns the cgroup and removes it.
  struct Release {
    Cgroup& cgroup;
    ~Release() { cgroup.release(); }
  } release{cgroup};
  if (cgroup.directories().empty() || !sameProcess(target.pid, target.startTime)) {
    return Error("container " + target.id.substr(0, 12) + " is not running", ESRCH);
  }
  UniqueFd devNull;
  if (!interactive) {
    devNull.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!devNull) return Error::fromErrno("cannot open /dev/null");
  }
  int sync[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) != 0) {
    return Error::fromErrno("cannot create exec's socket pair");
  }
  UniqueFd syncParent(sync[0]);
  UniqueFd syncChild(sync[1]);
  TANDEM_ASSIGN_OR_RETURN(Pipe errorPipe, makePipe());
  sigset_t forwarded = forwardedSignals();
  SignalBlock blocked(forwarded);
  UniqueFd signals(::signalfd(-1, &forwarded, SFD_CLOEXEC));
  if (!signals) {
    return Error::fromErrno("cannot create a signalfd for the command's signals");
  }
  // The command is this process's grandchild; it is adopted here when its parent exits.
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    return Error::fromErrno("cannot become the subreaper of the exec'd command");
  }
  sigset_t commandMask;
  sigemptyset(&commandMask);
  bool userNamespace = !process.uidMappings.empty();
  ContainerProcessConfig child{std::move(process),
                               {},
                               capabilities,
                               std::move(seccompProgram),
                               false,
                               userNamespace,
                               syncChild.get(),
                               errorPipe.write.get(),
                               commandMask};
  pid_t intermediate = ::fork();
  if (intermediate < 0) {
    return Error::fromErrno("cannot fork the exec process");
  }
  if (intermediate == 0) {
    enterProtectedCopy(syncChild.get(), errorPipe.write.get(), devNull ? devNull.get() : -1,
                       target);
  }
  ChildGuard intermediateGuard(intermediate);
  syncChild.reset();
  errorPipe.write.reset();
  // In the cgroup before it can fork the command, which is then born there.
  Status admitted = cgroup.addProcess(intermediate);
  if (admitted) admitted = sendConfig(syncParent.get(), child);
  if (!admitted) {
    ::kill(intermediate, SIGKILL);
  }
  TANDEM_ASSIGN_OR_RETURN(ExitStatus intermediateStatus, waitForExit(intermediate));
  intermediateGuard.reaped();
  std::int32_t commandPid = 0;
  bool started =
      admitted && !intermediateStatus.signaled && intermediateStatus.code == 0 &&
      ::recv(syncParent.get(), &commandPid, sizeof commandPid, MSG_WAITALL) == sizeof commandPid &&
      commandPid > 0;
  std::optional<ChildGuard> commandGuard;
  if (started) commandGuard.emplace(commandPid);
  std::optional<ChildFailure> failure = readChildFailure(errorPipe.read.get());
  WorkloadOutcome outcome;
  outcome.id = target.id;
  if (failure) {
    if (started) {
      (void)waitForExit(commandPid);
      commandGuard->reaped();
    }
    if (failure->exitCode == kExitRuntimeError) return Error(failure->message);
    outcome.status = ExitStatus{false, failure->exitCode, 0};
    outcome.launchError = failure->message;
    return outcome;
  }
  if (!admitted) return admitted.error();
  if (!started) {
    return Error("the exec process for container " + target.id.substr(0, 12) + " " +
                 intermediateStatus.describe() + " without starting the command");
  }
  TANDEM_ASSIGN_OR_RETURN(outcome.status, waitForwardingSignals(commandPid, signals.get()));
  commandGuard->reaped();
  return outcome;
}

}  // namespace tandem::container

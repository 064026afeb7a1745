#include "container/container_process.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "common/child_process.h"
#include "common/fd_passing.h"
#include "common/file.h"
#include "common/log.h"
#include "common/net_link.h"
#include "common/process.h"
#include "common/process_identity.h"
#include "common/capabilities.h"
#include "container/child_report.h"
#include "container/init_process.h"
#include "container/process_setup.h"
#include "container/sealed_binary.h"
#include "container/seccomp.h"
#include "container/start_timeline.h"

namespace tandem::container {

namespace {

[[noreturn]] void fail(const ContainerProcessConfig& config, const Error& error,
                       int exitCode = kExitRuntimeError) {
  reportChildFailure(config.errorPipe, exitCode, error.describe());
}

template <class T>
T orFail(const ContainerProcessConfig& config, Result<T> result) {
  if (!result) fail(config, result.error());
  return std::move(result).value();
}

void orFail(const ContainerProcessConfig& config, Status status) {
  if (!status) fail(config, status.error());
}

void awaitRuntime(const ContainerProcessConfig& config, char expected) {
  char byte = 0;
  if (::read(config.syncSocket, &byte, 1) != 1 || byte != expected) {
    // The runtime is gone or gave up; it reports its own error, and there is no one to tell.
    ::_exit(kExitRuntimeError);
  }
}

// Enters the network namespace of the peer container's first process, checked to be that
// process still (pid and start time): before the root is built, so /sys shows the peer's links.
Status joinNetworkOf(const NetworkPeer& peer) {
  std::string path = "/proc/" + std::to_string(peer.pid) + "/ns/net";
  UniqueFd namespaceFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!namespaceFd || !sameProcess(peer.pid, peer.startTime)) {
    return Error("container " + peer.id.substr(0, 12) +
                     ", whose network this one joins, is no longer running",
                 ESRCH);
  }
  if (::setns(namespaceFd.get(), CLONE_NEWNET) != 0) {
    return Error::fromErrno("cannot join the network of container " + peer.id.substr(0, 12));
  }
  return okStatus();
}

}  // namespace

void reexecProtected(const char* program, const char* verb, int syncSocket, int errorPipe) {
  auto self = protectedSelf();
  if (!self) reportChildFailure(errorPipe, kExitRuntimeError, self.error().describe());
  // The sync socket and the error pipe cross the exec (the runtime sends the configuration over
  // the socket); the protected copy marks them close-on-exec again before the workload runs.
  for (int fd : {syncSocket, errorPipe}) {
    ::fcntl(fd, F_SETFD, 0);
  }
  std::string configArg = std::to_string(syncSocket);
  std::string errorArg = std::to_string(errorPipe);
  char* argv[] = {const_cast<char*>(program), const_cast<char*>(verb), configArg.data(),
                  errorArg.data(), nullptr};
  char* envp[] = {nullptr};
  ::execveat(self->get(), "", argv, envp, AT_EMPTY_PATH);
  reportChildFailure(errorPipe, kExitRuntimeError,
                     Error::fromErrno("cannot execute the runtime's protected copy").describe());
}

sigset_t forwardedSignals() {
  return signalSet({SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD});
}

void runContainerProcess(const ContainerProcessConfig& config) {
  for (int sig = 1; sig < NSIG; ++sig) {
    ::signal(sig, SIG_DFL);
  }
  // Survives the re-exec below; changing credentials clears it, so it is set again later.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

  // With a user namespace, nothing below works until the runtime has written its id maps.
  if (config.userNamespace) {
    awaitRuntime(config, kSyncMapsWritten);
    if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) {
      fail(config, Error::fromErrno("cannot become root of the user namespace; does --uidmap "
                                    "map container uid 0?"));
    }
  }
  reexecProtected("tandem", "container-process", config.syncSocket, config.errorPipe);
}

void continueContainerProcess(const ContainerProcessConfig& config) {
  ChildMilestones milestones{.reexecuted = monotonicNs()};
  const Workload& workload = config.workload;
  // Nothing in the container may read this process's memory or open /proc/PID/exe while it is
  // still tandem; the workload's exec resets this.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // The runtime's mounts of the writable layer's filesystem and of the disk volumes follow the
  // configuration on the socket.
  UniqueFd layerMount;
  if (!config.rootfs.layerDisk.empty()) {
    layerMount = orFail(config, receiveFd(config.syncSocket));
  }
  std::vector<UniqueFd> diskMounts;
  for (const Volume& volume : workload.volumes) {
    if (volume.kind == VolumeKind::kDisk) {
      diskMounts.push_back(orFail(config, receiveFd(config.syncSocket)));
    }
  }
  awaitRuntime(config, kSyncStateReady);
  milestones.rootStarted = monotonicNs();
  if (::sethostname(workload.hostname.data(), workload.hostname.size()) != 0) {
    fail(config, Error::fromErrno("cannot set the hostname to " + workload.hostname));
  }
  if (config.ownNetwork) {
    orFail(config, bringLoopbackUp());
  }
  if (workload.networkPeer) {
    orFail(config, joinNetworkOf(*workload.networkPeer));
  }
  orFail(config, buildRootfs(config.rootfs, workload.volumes, std::move(layerMount),
                             std::move(diskMounts)));
  Console console;
  if (workload.tty) {
    console = orFail(config, openConsole(config.rootfs.merged));
    orFail(config, sendFd(config.syncSocket, console.master.get()));
    console.master.reset();
  }
  orFail(config, enterRootfs(config.rootfs));
  spdlog::debug("container: root filesystem entered");
  orFail(config, applyRlimits(workload.rlimits));
  milestones.rootEntered = monotonicNs();

  // The root filesystem was built while the runtime set up the cgroup; the workload may not run
  // a single instruction outside it.
  awaitRuntime(config, kSyncInCgroup);
  milestones.inCgroup = monotonicNs();
  spdlog::debug("container: in its cgroup");
  // Only now is this process in its cgroup, which becomes the root of its cgroup namespace.
  if (::unshare(CLONE_NEWCGROUP) != 0) {
    fail(config, Error::fromErrno("cannot create the cgroup namespace"));
  }

  ResolvedUser user = orFail(config, lookUpUser(workload));
  std::vector<std::string> env = workloadEnvironment(workload, user);
  if (::chdir(workload.workdir.c_str()) != 0) {
    if (errno != ENOENT || !makeDirectories(workload.workdir).ok() ||
        ::chdir(workload.workdir.c_str()) != 0) {
      fail(config, Error::fromErrno("cannot change to the working directory " + workload.workdir));
    }
  }
  Executable executable = findExecutable(workload.command.front(), *envValue(env, "PATH"));
  if (executable.exitCode != 0) {
    reportChildFailure(config.errorPipe, executable.exitCode, executable.problem);
  }

  // A session of its own; with a pty, that pty becomes the controlling terminal.
  ::setsid();
  if (workload.tty) {
    orFail(config, attachTerminal(console.slave.get()));
  }

  orFail(config, dropToWorkloadPrivileges(user, config.capabilities));
  // Changing credentials cleared the parent-death signal.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

  std::vector<char*> argv = execArgv(workload.command);
  std::vector<char*> envp = execArgv(env);

  // The error pipe closes at exec with the rest, which is how a successful exec is seen.
  orFail(config, sealRuntimeDescriptors());
  spdlog::debug("container: identity and capabilities set");
  orFail(config, sendChildMilestones(config.syncSocket, milestones));
  if (!config.seccompProgram.empty()) {
    orFail(config, installSeccompProgram(config.seccompProgram));
  }

  if (workload.init) {
    sigset_t all;
    sigfillset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    pid_t child = ::fork();
    if (child < 0) {
      fail(config, Error::fromErrno("cannot start the workload under --init"));
    }
    if (child > 0) {
      ::close(config.errorPipe);
      runInit(child);
    }
    if (workload.tty) {
      // The workload, not the init, gets the terminal's signals (^C) as its foreground group.
      ::setpgid(0, 0);
      ::tcsetpgrp(0, ::getpid());
    }
  }
  ::sigprocmask(SIG_SETMASK, &config.workloadSignalMask, nullptr);
  ::execve(executable.path.c_str(), argv.data(), envp.data());
  int err = errno;
  reportChildFailure(config.errorPipe, err == ENOENT ? kExitNotFound : kExitCannotExecute,
                     Error::fromErrno("cannot execute " + executable.path, err).describe());
}

}  // namespace tandem::container

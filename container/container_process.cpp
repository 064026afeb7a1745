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

#include "common/fd_passing.h"
#include "common/file.h"
#include "common/log.h"
#include "common/net_link.h"
#include "common/process.h"
#include "common/process_identity.h"
#include "container/capabilities.h"
#include "container/child_report.h"
#include "container/init_process.h"
#include "container/sealed_binary.h"
#include "container/seccomp.h"
#include "container/user_lookup.h"

namespace tandem::container {

namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string limitText(std::uint64_t value) {
  return value == RLIM_INFINITY ? "unlimited" : std::to_string(value);
}

Status applyRlimits(const std::vector<Rlimit>& limits) {
  for (const auto& limit : limits) {
    rlimit value{limit.soft, limit.hard};
    if (::setrlimit(limit.resource, &value) != 0) {
      int err = errno;
      rlimit current{};
      ::getrlimit(limit.resource, &current);
      return Error::fromErrno(std::string("cannot set ulimit ") + rlimitName(limit.resource) +
                                  " to " + limitText(limit.soft) + ":" + limitText(limit.hard) +
                                  " (this host's hard limit is " + limitText(current.rlim_max) +
                                  "; ask for at most that)",
                              err);
    }
  }
  return okStatus();
}

std::optional<std::string> envValue(const std::vector<std::string>& env, const std::string& key) {
  for (const auto& entry : env) {
    if (entry.size() > key.size() && entry[key.size()] == '=' &&
        entry.compare(0, key.size(), key) == 0) {
      return entry.substr(key.size() + 1);
    }
  }
  return std::nullopt;
}

// Defaults docker gives every container, unless the user set them.
std::vector<std::string> workloadEnvironment(const Workload& workload, const ResolvedUser& user) {
  std::vector<std::string> env = workload.env;
  if (!envValue(env, "PATH")) env.push_back(std::string("PATH=") + kDefaultPath);
  if (!envValue(env, "HOSTNAME")) env.push_back("HOSTNAME=" + workload.hostname);
  if (!envValue(env, "HOME")) env.push_back("HOME=" + user.home);
  if (workload.tty && !envValue(env, "TERM")) env.push_back("TERM=xterm");
  return env;
}

struct Executable {
  std::string path;
  int exitCode = 0;  // non-zero when not found or not executable
  std::string problem;
};

// execvp's search, but over the container's PATH rather than the runtime's, and telling apart
// "not found" (127) from "found but not executable" (126).
Executable findExecutable(const std::string& command, const std::string& path) {
  auto check = [](const std::string& candidate) -> int {
    struct stat st {};
    if (::stat(candidate.c_str(), &st) != 0) {
      return errno == ENOTDIR ? ENOENT : errno;
    }
    if (S_ISDIR(st.st_mode)) {
      return EISDIR;
    }
    return ::access(candidate.c_str(), X_OK) == 0 ? 0 : EACCES;
  };
  if (command.find('/') != std::string::npos) {
    int err = check(command);
    if (err == 0) return {command, 0, ""};
    if (err == ENOENT)
      return {"", kExitNotFound, "\"" + command + "\": no such file in the rootfs"};
    return {"", kExitCannotExecute, "\"" + command + "\" is not executable: " + std::strerror(err)};
  }
  std::string denied;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + command;
    int err = check(candidate);
    if (err == 0) return {candidate, 0, ""};
    if (err != ENOENT && denied.empty()) denied = candidate;
    start = end + 1;
  }
  if (!denied.empty()) {
    return {"", kExitCannotExecute, "\"" + denied + "\" is not executable"};
  }
  return {"", kExitNotFound,
          "\"" + command + "\": executable file not found in $PATH (" + path + ")"};
}

Result<ResolvedUser> lookUpUser(const Workload& workload) {
  auto passwd = readFile("/etc/passwd");
  auto group = readFile("/etc/group");
  auto resolved =
      resolveUser(workload.user.spec.value_or(""), passwd ? *passwd : "", group ? *group : "");
  if (resolved && !workload.user.additionalGids.empty()) {
    resolved->additionalGids.insert(resolved->additionalGids.end(),
                                    workload.user.additionalGids.begin(),
                                    workload.user.additionalGids.end());
  }
  return resolved;
}

Status changeIdentity(const ResolvedUser& user) {
  if (::setgroups(user.additionalGids.size(), user.additionalGids.data()) != 0) {
    return Error::fromErrno("cannot set supplementary groups");
  }
  if (::setresgid(user.gid, user.gid, user.gid) != 0) {
    return Error::fromErrno("cannot switch to group " + std::to_string(user.gid));
  }
  if (::setresuid(user.uid, user.uid, user.uid) != 0) {
    return Error::fromErrno("cannot switch to user " + std::to_string(user.uid));
  }
  return okStatus();
}

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

// The new mount API's detached mount leaves no trace in the (private) mount namespace; where the
// kernel lacks it, the fallback copies tandem into a sealed memfd, at several milliseconds' cost.
Result<UniqueFd> protectedSelf() {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Error::fromErrno("cannot make the container's mounts private");
  }
  auto view = readOnlyViewOfSelf();
  if (view) {
    return view;
  }
  spdlog::debug("{}; falling back to a sealed copy", view.error().describe());
  return sealedCopyOfSelf();
}

[[noreturn]] void enterProtectedCopy(const ContainerProcessConfig& config) {
  UniqueFd self = orFail(config, protectedSelf());
  // The sync socket and the error pipe cross the exec (the runtime sends the configuration over
  // the socket); the protected copy marks them close-on-exec again before the workload runs.
  for (int fd : {config.syncSocket, config.errorPipe}) {
    ::fcntl(fd, F_SETFD, 0);
  }
  std::string configArg = std::to_string(config.syncSocket);
  std::string errorArg = std::to_string(config.errorPipe);
  char* argv[] = {const_cast<char*>("tandem"), const_cast<char*>("container-process"),
                  configArg.data(), errorArg.data(), nullptr};
  char* envp[] = {nullptr};
  ::execveat(self.get(), "", argv, envp, AT_EMPTY_PATH);
  fail(config, Error::fromErrno("cannot execute tandem's protected copy"));
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

sigset_t forwardedSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD}) {
    sigaddset(&set, sig);
  }
  return set;
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
  enterProtectedCopy(config);
}

void continueContainerProcess(const ContainerProcessConfig& config) {
  const Workload& workload = config.workload;
  // Nothing in the container may read this process's memory or open /proc/PID/exe while it is
  // still tandem; the workload's exec resets this.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // The runtime's mounts of the disk volumes follow the configuration on the socket.
  std::vector<UniqueFd> diskMounts;
  for (const Volume& volume : workload.volumes) {
    if (volume.kind == VolumeKind::kDisk) {
      diskMounts.push_back(orFail(config, receiveFd(config.syncSocket)));
    }
  }
  awaitRuntime(config, kSyncStateReady);
  if (::sethostname(workload.hostname.data(), workload.hostname.size()) != 0) {
    fail(config, Error::fromErrno("cannot set the hostname to " + workload.hostname));
  }
  if (config.ownNetwork) {
    orFail(config, bringLoopbackUp());
  }
  if (workload.networkPeer) {
    orFail(config, joinNetworkOf(*workload.networkPeer));
  }
  orFail(config, buildRootfs(config.rootfs, workload.volumes, std::move(diskMounts)));
  Console console;
  if (workload.tty) {
    console = orFail(config, openConsole(config.rootfs.merged));
    orFail(config, sendFd(config.syncSocket, console.master.get()));
    console.master.reset();
  }
  orFail(config, enterRootfs(config.rootfs));
  spdlog::debug("container: root filesystem entered");
  orFail(config, applyRlimits(workload.rlimits));

  // The root filesystem was built while the runtime set up the cgroup; the workload may not run
  // a single instruction outside it.
  awaitRuntime(config, kSyncInCgroup);
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
    if (::ioctl(console.slave.get(), TIOCSCTTY, 0) != 0) {
      fail(config, Error::fromErrno("cannot make the pty the controlling terminal"));
    }
    for (int fd = 0; fd < 3; ++fd) {
      if (::dup2(console.slave.get(), fd) != fd) {
        fail(config, Error::fromErrno("cannot attach the pty to stdio"));
      }
    }
  }

  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    fail(config, Error::fromErrno("cannot set no_new_privs"));
  }
  orFail(config, dropBoundingSet(config.capabilities));
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
    fail(config, Error::fromErrno("cannot keep capabilities across the user switch"));
  }
  orFail(config, changeIdentity(user));
  orFail(config, applyCapabilities(config.capabilities));
  // Changing credentials cleared the parent-death signal.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

  std::vector<char*> argv;
  for (const auto& arg : workload.command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& entry : env) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);

  // Every descriptor but stdio closes at exec: none of the runtime's may leak in (the class of
  // CVE-2024-21626). The error pipe is among them, which is how a successful exec is seen.
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    fail(config, Error::fromErrno("cannot mark the runtime's descriptors close-on-exec"));
  }
  spdlog::debug("container: identity and capabilities set");
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

#include "container/oci/bundle_exec.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "common/cgroup.h"
#include "common/child_process.h"
#include "common/fd_passing.h"
#include "common/file.h"
#include "common/log.h"
#include "common/oci/runtime_spec.h"
#include "common/process.h"
#include "common/process_identity.h"
#include "common/unix_socket.h"
#include "common/capabilities.h"
#include "container/child_report.h"
#include "container/container_process.h"
#include "container/oci/process_start.h"
#include "container/process_setup.h"
#include "container/rootfs.h"

namespace tandem::container {

namespace {

[[noreturn]] void fail(const ExecProcessConfig& config, const Error& error) {
  reportChildFailure(config.errorPipe, kExitRuntimeError, error.describe());
}

}  // namespace

void continueBundleExecProcess(const ExecProcessConfig& config) {
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  auto parsed = oci::parseProcess(config.processText);
  if (!parsed) fail(config, parsed.error());
  const oci::Process& process = *parsed;
  if (auto joined = joinNamespacesOf(config.target); !joined) fail(config, joined.error());
  UniqueFd slave;
  if (process.terminal) {
    // The container's own devpts, reached through its /dev/ptmx.
    auto pty = openPty("/dev/ptmx");
    if (!pty) fail(config, pty.error());
    if (auto sent = sendFd(config.syncSocket, pty->master.get()); !sent) fail(config, sent.error());
    slave = std::move(pty->slave);
  }
  // Only children enter the pid namespace joined.
  pid_t child = ::fork();
  if (child < 0) fail(config, Error::fromErrno("cannot start the process in the container"));
  if (child == 0) {
    ::setsid();
    if (slave) {
      if (auto attached = attachTerminal(slave.get()); !attached) fail(config, attached.error());
      slave.reset();
    }
    startProcess(process, config.seccompProgram, config.errorPipe);
  }
  std::int32_t pid = child;
  if (::send(config.syncSocket, &pid, sizeof pid, MSG_NOSIGNAL) != sizeof pid) {
    ::kill(child, SIGKILL);
    ::_exit(kExitRuntimeError);
  }
  ::_exit(0);
}

Result<int> execInBundle(const std::string& program, const ExecTarget& target,
                         const std::string& cgroupPath,
                         const std::vector<sock_filter>& seccompProgram,
                         const ExecRequest& request) {
  TANDEM_ASSIGN_OR_RETURN(oci::Process process, oci::parseProcess(request.processText));
  if (process.terminal && request.consoleSocket.empty()) {
    return Error("process.terminal is set, so --console-socket is needed to receive the pty");
  }
  TANDEM_ASSIGN_OR_RETURN(CgroupMounts mounts, detectCgroupMounts());
  Cgroup cgroup = Cgroup::adoptAt(mounts, cgroupPath);
  // Only joined here: the container's delete removes the cgroup.
  struct Release {
    Cgroup& cgroup;
    ~Release() { cgroup.release(); }
  } release{cgroup};
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return Error::fromErrno("cannot create exec's socket pair");
  }
  UniqueFd syncParent(pair[0]);
  UniqueFd syncChild(pair[1]);
  TANDEM_ASSIGN_OR_RETURN(Pipe errorPipe, makePipe());
  sigset_t forwarded = forwardedSignals();
  std::optional<SignalBlock> blocked;
  UniqueFd signals;
  if (!request.detach) {
    blocked.emplace(forwarded);
    signals.reset(::signalfd(-1, &forwarded, SFD_CLOEXEC));
    if (!signals) return Error::fromErrno("cannot create a signalfd for the process's signals");
    // The process is this one's grandchild; it is adopted here when its parent exits. Detached,
    // it goes to the caller's subreaper instead, as runc's does.
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
      return Error::fromErrno("cannot become the subreaper of the exec'd process");
    }
  }
  ExecProcessConfig config{request.processText, target, seccompProgram, syncChild.get(),
                           errorPipe.write.get()};
  pid_t intermediate = ::fork();
  if (intermediate < 0) return Error::fromErrno("cannot fork the exec process");
  if (intermediate == 0) {
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    // A mount namespace of its own, for the protected view of the runtime; the container's
    // replaces it.
    if (::unshare(CLONE_NEWNS) != 0) {
      reportChildFailure(config.errorPipe, kExitRuntimeError,
                         Error::fromErrno("cannot create a mount namespace for exec").describe());
    }
    reexecProtected(program.c_str(), "exec-process", config.syncSocket, config.errorPipe);
  }
  ChildGuard intermediateGuard(intermediate);
  syncChild.reset();
  errorPipe.write.reset();
  // In the cgroup before it forks the process, which is then born there.
  Status admitted = cgroup.addProcess(intermediate);
  if (admitted) admitted = sendFramedText(syncParent.get(), serializeExecProcessConfig(config));
  if (admitted && process.terminal) {
    auto master = receiveFd(syncParent.get());
    auto socket =
        master ? connectUnixSocket(request.consoleSocket) : Result<UniqueFd>(master.error());
    admitted = socket ? sendFd(socket->get(), master->get()) : Status(socket.error());
  }
  if (!admitted) ::kill(intermediate, SIGKILL);
  TANDEM_ASSIGN_OR_RETURN(ExitStatus intermediateStatus, waitForExit(intermediate));
  intermediateGuard.reaped();
  std::int32_t pid = 0;
  bool started = admitted && !intermediateStatus.signaled && intermediateStatus.code == 0 &&
                 ::recv(syncParent.get(), &pid, sizeof pid, MSG_WAITALL) == sizeof pid && pid > 0;
  std::optional<ChildGuard> processGuard;
  if (started && !request.detach) processGuard.emplace(pid);
  // Blocks until the process's exec closes its copy of the pipe, or a failure arrives.
  if (auto failure = readChildFailure(errorPipe.read.get())) {
    return Error(failure->message);
  }
  if (!admitted) return admitted.error();
  if (!started) {
    return Error("the exec process " + intermediateStatus.describe() +
                 " without starting the process");
  }
  if (!request.pidFile.empty()) {
    TANDEM_TRY(writeFile(request.pidFile + ".tmp", std::to_string(pid)));
    if (::rename((request.pidFile + ".tmp").c_str(), request.pidFile.c_str()) != 0) {
      return Error::fromErrno("cannot write the pid file " + request.pidFile);
    }
  }
  if (request.detach) return 0;
  TANDEM_ASSIGN_OR_RETURN(ExitStatus status, waitForwardingSignals(pid, signals.get()));
  processGuard->reaped();
  return status.shellCode();
}

std::string serializeExecProcessConfig(const ExecProcessConfig& config) {
  nlohmann::json program = seccompProgramToJson(config.seccompProgram);
  return nlohmann::json{
      {"process", config.processText},
      {"target", {config.target.id, config.target.pid, config.target.startTime}},
      {"seccompProgram", program},
      {"syncSocket", config.syncSocket},
      {"errorPipe", config.errorPipe},
      {"logLevel", spdlog::level::to_string_view(spdlog::get_level()).data()},
  }
      .dump();
}

Result<ExecProcessConfig> parseExecProcessConfig(const std::string& text) {
  try {
    auto json = nlohmann::json::parse(text);
    ExecProcessConfig config;
    config.processText = json.at("process").get<std::string>();
    const auto& target = json.at("target");
    config.target = ExecTarget{target.at(0).get<std::string>(), target.at(1).get<pid_t>(),
                               target.at(2).get<std::uint64_t>()};
    config.seccompProgram = seccompProgramFromJson(json.at("seccompProgram"));
    config.syncSocket = json.at("syncSocket").get<int>();
    config.errorPipe = json.at("errorPipe").get<int>();
    (void)setLogLevel(json.at("logLevel").get<std::string>());
    return config;
  } catch (const nlohmann::json::exception& e) {
    return Error(std::string("the exec process's configuration is damaged: ") + e.what());
  }
}

}  // namespace tandem::container

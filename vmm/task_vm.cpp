#include "vmm/task_vm.h"

#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/child_process.h"
#include "common/file.h"
#include "common/log.h"
#include "common/process.h"
#include "vmm/agent_client.h"

namespace tandem::vmm {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRetryMilliseconds = 100;

// The agent of the task's microVM, once it listens. A signal meanwhile means the container is
// stopped before it started: nullopt, and the signal.
Result<std::optional<UniqueFd>> awaitAgent(const std::string& socket, int signals, int& signal) {
  auto deadline = Clock::now() + kTaskVmBootTimeout;
  for (;;) {
    auto agent = connectToAgent(socket);
    if (agent) return std::optional<UniqueFd>(std::move(agent).value());
    if (Clock::now() >= deadline) {
      return std::move(agent).error().context("the task's microVM did not answer within " +
                                              std::to_string(kTaskVmBootTimeout.count()) + " s");
    }
    pollfd fd{signals, POLLIN, 0};
    if (::poll(&fd, 1, kRetryMilliseconds) > 0) {
      signalfd_siginfo info{};
      if (::read(signals, &info, sizeof info) == sizeof info) {
        signal = static_cast<int>(info.ssi_signo);
        return std::optional<UniqueFd>();
      }
    }
  }
}

// True once the relay says the container runs; false when it ended first (end of file). Signals
// meanwhile go on to the relay, which passes them to the guest or gives up waiting for it.
bool awaitRunning(int running, int signals, pid_t relay) {
  for (;;) {
    pollfd fds[] = {{running, POLLIN, 0}, {signals, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (fds[1].revents) {
      signalfd_siginfo info{};
      if (::read(signals, &info, sizeof info) == sizeof info && info.ssi_signo != SIGCHLD) {
        ::kill(relay, static_cast<int>(info.ssi_signo));
      }
    }
    if (fds[0].revents) {
      char byte = 0;
      ssize_t n = ::read(running, &byte, 1);
      if (n < 0 && errno == EINTR) continue;
      return n == 1;
    }
  }
}

// The relay process: the agent session, its result as JSON on `result`, a byte on `startedFd`
// once the container runs.
[[noreturn]] void relay(const std::string& socket, const Workload& request, int result,
                        int startedFd) {
  sigset_t passedOn = signalSet({SIGINT, SIGTERM, SIGHUP});
  UniqueFd signals(::signalfd(-1, &passedOn, SFD_CLOEXEC));
  std::string outcome;
  int signal = 0;
  auto agent =
      signals
          ? awaitAgent(socket, signals.get(), signal)
          : Result<std::optional<UniqueFd>>(Error::fromErrno("cannot create the relay's signalfd"));
  if (!agent) {
    outcome = nlohmann::json{{"error", agent.error().describe()}}.dump();
  } else if (!*agent) {
    outcome = nlohmann::json{{"stopped_before_start", signal}}.dump();
  } else {
    auto exit = execInGuest((*agent)->get(), guest::AgentFrame::kRunContainer, request,
                            {.stdinFd = -1,
                             .stdoutFd = 1,
                             .stderrFd = 2,
                             .signalFd = signals.get(),
                             .startedFd = startedFd});
    outcome = exit ? guest::execExitToJson(*exit)
                   : nlohmann::json{{"error", exit.error().describe()}}.dump();
  }
  static_cast<void>(writeAll(result, outcome, "the relay's result"));
  std::fflush(nullptr);
  ::_exit(0);
}

}  // namespace

bool runsInTaskVm(const Workload& workload) {
  return workload.isolation == Isolation::kVm && workload.network == NetworkMode::kContainer &&
         workload.networkPeer.has_value();
}

std::string guestImageMount(const std::string& diskPath) {
  // FNV-1a: a short, stable name per path; the paths are tandem's own image store's.
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : diskPath) {
    hash = (hash ^ c) * 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return std::string("/.tandem/images/") + hex;
}

Volume imageDiskVolume(const std::string& diskPath) {
  return Volume{.source = diskPath,
                .target = guestImageMount(diskPath),
                .readOnly = true,
                .kind = VolumeKind::kDisk};
}

Result<WorkloadOutcome> runInTaskVm(const VmBackendConfig& config, const Workload& workload,
                                    const IsolationBackend::StartedCallback& started) {
  if (workload.rootfsDisk.empty()) {
    return Error("container " + workload.id +
                     " of a task's microVM has no image disk to run from; start it from an image",
                 EINVAL);
  }
  std::string socket = vsockSocketPath(config.stateRoot, workload.networkPeer->id);
  Workload request = workload;
  request.rootfs = guestImageMount(workload.rootfsDisk);
  request.rootfsDisk.clear();
  request.network = NetworkMode::kNone;
  request.networkPeer.reset();
  request.ports.clear();

  TANDEM_ASSIGN_OR_RETURN(Pipe result, makePipe());
  TANDEM_ASSIGN_OR_RETURN(Pipe running, makePipe());
  sigset_t supervised = signalSet({SIGINT, SIGTERM, SIGHUP, SIGCHLD});
  SignalBlock blocked(supervised);
  UniqueFd signals(::signalfd(-1, &supervised, SFD_CLOEXEC));
  if (!signals) {
    return Error::fromErrno("cannot create a signalfd to pass signals on to the relay");
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    return Error::fromErrno("cannot start the relay to the task's microVM");
  }
  if (pid == 0) {
    signals.reset();
    result.read.reset();
    running.read.reset();
    relay(socket, request, result.write.get(), running.write.get());
  }
  result.write.reset();
  running.write.reset();
  ChildGuard guard(pid);
  // Started once it runs in the guest, as a container on the host once it execs: dependsOn
  // START and task run -d mean the container, not the relay.
  if (awaitRunning(running.read.get(), signals.get(), pid) && started) started(pid);
  TANDEM_ASSIGN_OR_RETURN(ExitStatus status, waitForwardingSignals(pid, signals.get()));
  guard.reaped();
  WorkloadOutcome outcome;
  outcome.id = workload.id;
  if (status.signaled) {
    // Killed outright (tandem kill -s KILL): its session closed, and the guest killed the
    // container with SIGKILL.
    outcome.status = status;
    return outcome;
  }
  TANDEM_ASSIGN_OR_RETURN(std::string text, readFile(result.read.get(), "the relay's result"));
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_object() && json.contains("error") && json["error"].is_string()) {
    return Error(json["error"].get<std::string>(), EIO);
  }
  if (json.is_object() && json.contains("stopped_before_start") &&
      json["stopped_before_start"].is_number_integer()) {
    outcome.status = {.signaled = true, .signal = json["stopped_before_start"].get<int>()};
    return outcome;
  }
  TANDEM_ASSIGN_OR_RETURN(guest::ExecExit exit, guest::execExitFromJson(text));
  if (exit.signal) {
    outcome.status = {.signaled = true, .signal = *exit.signal};
  } else {
    outcome.status = {.code = exit.exitCode.value_or(kExitRuntimeError)};
  }
  return outcome;
}

Result<ResourceUsage> taskContainerUsage(const VmBackendConfig& config, const Workload& workload) {
  std::string socket = vsockSocketPath(config.stateRoot, workload.networkPeer->id);
  TANDEM_ASSIGN_OR_RETURN(UniqueFd agent, connectToAgent(socket));
  TANDEM_ASSIGN_OR_RETURN(guest::ContainerUsage usage,
                          containerUsageInGuest(agent.get(), workload.id));
  return ResourceUsage{.cpuNanos = usage.cpuNanos,
                       .memoryBytes = usage.memoryBytes,
                       .memoryLimitBytes = usage.memoryLimitBytes,
                       .processes = usage.processes};
}

}  // namespace tandem::vmm

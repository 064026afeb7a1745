#include "scheduler/workload_monitor.h"

#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/child_process.h"
#include "common/file.h"
#include "common/log.h"
#include "common/size.h"
#include "scheduler/log_relay.h"
#include "scheduler/report_channel.h"
#include "scheduler/workload_store.h"

namespace tandem::scheduler {

namespace {

void send(int socket, const MonitorReport& report) {
  nlohmann::json json;
  if (report.kind == MonitorReport::Kind::kStarted) {
    json = {{"started", report.workloadPid}};
  } else if (report.kind == MonitorReport::Kind::kQueued) {
    json = {{"queued", report.message}};
  } else {
    json = {{"ended", report.exitCode}, {"message", report.message}};
  }
  sendReport(socket, json);
}

Result<MonitorReport> parseReport(std::string_view text) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  MonitorReport report;
  if (json.is_object() && json.contains("started") && json["started"].is_number_integer()) {
    report.kind = MonitorReport::Kind::kStarted;
    report.workloadPid = json["started"].get<pid_t>();
    return report;
  }
  if (json.is_object() && json.contains("queued") && json["queued"].is_string()) {
    report.kind = MonitorReport::Kind::kQueued;
    report.message = json["queued"].get<std::string>();
    return report;
  }
  if (json.is_object() && json.contains("ended") && json["ended"].is_number_integer() &&
      json.contains("message") && json["message"].is_string()) {
    report.kind = MonitorReport::Kind::kEnded;
    report.exitCode = json["ended"].get<int>();
    report.message = json["message"].get<std::string>();
    return report;
  }
  return Error("the workload's monitor sent a report tandem cannot read: " + std::string(text),
               EPROTO);
}

// Points `fd` at /dev/null.
void toDevNull(int fd, int flags) {
  UniqueFd devNull(::open("/dev/null", flags | O_CLOEXEC));
  if (devNull) ::dup2(devNull.get(), fd);
}

// Waits `wait` for one of the signals meant for the workload (blocked in the monitor); the
// signal, or 0 when none came.
int awaitPassedOnSignal(std::chrono::milliseconds wait) {
  sigset_t passedOn = signalsPassedOn();
  timespec pause{static_cast<time_t>(wait.count() / 1000),
                 static_cast<long>(wait.count() % 1000) * 1'000'000L};
  int sig = ::sigtimedwait(&passedOn, nullptr, &pause);
  return sig > 0 ? sig : 0;
}

// Records the workload once the host has room for it: at once, or, queued, as soon as running
// workloads give enough back. A signal meant for the workload cancels the wait.
Status beginWhenAdmitted(WorkloadStore& store, const Workload& workload,
                         const MonitorRequest& request, int reports) {
  auto deadline = std::chrono::steady_clock::now() + request.queueFor;
  bool told = false;
  for (;;) {
    Status begun = store.begin(workload, request.level, request.reason, request.reservation,
                               request.capacity, toString(request.restart));
    if (begun || begun.error().errnum() != EAGAIN) return begun;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Error(begun.error().message() +
                   (request.queueFor.count() > 0
                        ? "; waited in the queue for the time --queue gives"
                        : "; --queue SECONDS waits for room"));
    }
    if (!told) {
      send(reports, {.kind = MonitorReport::Kind::kQueued, .message = begun.error().message()});
      told = true;
    }
    if (int sig = awaitPassedOnSignal(std::min(left, std::chrono::milliseconds(250)))) {
      return Error(std::string("cancelled in the queue by SIG") + ::sigabbrev_np(sig));
    }
  }
}

[[noreturn]] void runMonitor(int reports, Workload workload, IsolationBackend& backend,
                             const MonitorRequest& request) {
  // Out of the caller's session: a terminal's SIGINT or SIGHUP reaches the caller, which passes
  // on what it means to, and never the monitor directly.
  ::setsid();
  ::prctl(PR_SET_NAME, "tandem-monitor", 0, 0, 0);
  auto endBeforeStart = [&](const Error& error) {
    send(reports, {.kind = MonitorReport::Kind::kEnded,
                   .exitCode = kExitRuntimeError,
                   .message = error.describe()});
    ::_exit(kExitRuntimeError);
  };
  auto store = WorkloadStore::open(request.stateRoot);
  if (!store) endBeforeStart(store.error());
  if (auto begun = beginWhenAdmitted(*store, workload, request, reports); !begun) {
    endBeforeStart(begun.error());
  }
  std::string directory = workloadDirectory(request.stateRoot, workload.id);
  auto relay = makeDirectories(directory, 0700).ok()
                   ? LogRelay::start(workloadLogPath(request.stateRoot, workload.id),
                                     !request.detached, request.logLimits)
                   : Result<LogRelay>(Error::fromErrno("cannot create " + directory));
  if (!relay) {
    (void)store->finish(workload.id, kExitRuntimeError, relay.error().describe());
    endBeforeStart(relay.error());
  }
  ::dup2(relay->stdoutWriter().get(), STDOUT_FILENO);
  ::dup2(relay->stderrWriter().get(), STDERR_FILENO);
  relay->stdoutWriter().reset();
  relay->stderrWriter().reset();
  if (request.detached) toDevNull(STDIN_FILENO, O_RDONLY);

  MonitorReport ended{.kind = MonitorReport::Kind::kEnded};
  for (unsigned restarts = 0;; ++restarts) {
    auto runStarted = std::chrono::steady_clock::now();
    auto outcome = backend.run(workload, [&](pid_t workloadPid) {
      if (auto recorded = store->started(workload.id, workloadPid); !recorded) {
        spdlog::warn("{}", recorded.error().describe());
      }
      send(reports, {.kind = MonitorReport::Kind::kStarted, .workloadPid = workloadPid});
    });
    if (outcome) {
      ended.exitCode = outcome->exitCode();
      ended.message = describeOutcome(*outcome, workload);
    } else {
      ended.exitCode = kExitRuntimeError;
      ended.message = outcome.error().describe();
    }
    auto stopped = store->stopRequested(workload.id);
    if (!shouldRestart(request.restart, ended.exitCode, restarts, !stopped || *stopped)) break;
    (void)store->restarted(workload.id, restarts + 1, ended.exitCode);
    auto ranFor = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - runStarted);
    // A signal meant for the workload, between its runs, ends it for good.
    if (awaitPassedOnSignal(restartDelay(restarts + 1, ranFor))) break;
  }
  // The workload's copies of the output pipes are gone; with this process's, the relay sees the
  // end and finishes the log before anyone hears that the workload ended.
  toDevNull(STDOUT_FILENO, O_WRONLY);
  toDevNull(STDERR_FILENO, O_WRONLY);
  (void)relay->wait();
  if (workload.removeOnExit) {
    (void)store->remove(workload.id);
    (void)removeTree(directory);
  } else {
    (void)store->finish(workload.id, ended.exitCode, ended.message);
  }
  send(reports, ended);
  // Closed before _exit, which skips destructors: the last connection to close checkpoints the
  // write-ahead log and deletes it, or the next tandem to open the database reads all of it back.
  { WorkloadStore closing = std::move(*store); }
  ::_exit(ended.exitCode);
}

}  // namespace

sigset_t signalsPassedOn() {
  return signalSet({SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH});
}

std::string workloadDirectory(const std::string& stateRoot, const std::string& id) {
  return stateRoot + "/workloads/" + id;
}

std::string workloadLogPath(const std::string& stateRoot, const std::string& id) {
  return workloadDirectory(stateRoot, id) + "/log";
}

std::string describeOutcome(const WorkloadOutcome& outcome, const Workload& workload) {
  if (!outcome.launchError.empty()) return outcome.launchError;
  if (outcome.oomKilled) {
    return "workload " + outcome.id.substr(0, 12) + " was killed by the OOM killer (memory limit " +
           formatSize(workload.limits.memoryBytes.value_or(0)) + ")";
  }
  return "";
}

Result<WorkloadMonitor> WorkloadMonitor::start(const Workload& workload, IsolationBackend& backend,
                                               const MonitorRequest& request) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return Error::fromErrno("cannot create the socket the workload's monitor reports on");
  }
  UniqueFd ours(pair[0]);
  UniqueFd theirs(pair[1]);
  pid_t pid = ::fork();
  if (pid < 0) {
    return Error::fromErrno("cannot start the workload's monitor");
  }
  if (pid == 0) {
    ours.reset();
    runMonitor(theirs.get(), workload, backend, request);
  }
  return WorkloadMonitor(pid, std::move(ours));
}

Result<MonitorReport> WorkloadMonitor::nextReport(int signalFd) {
  TANDEM_ASSIGN_OR_RETURN(std::optional<std::string> text,
                          awaitReport(reports_.get(), signalFd, pid_, "the workload's monitor"));
  if (!text) {
    return Error("the workload's monitor (process " + std::to_string(pid_) +
                     ") ended without saying how the workload did; see tandem ps -a",
                 EPIPE);
  }
  return parseReport(*text);
}

Result<ExitStatus> WorkloadMonitor::reap() {
  return waitForExit(pid_);
}

}  // namespace tandem::scheduler

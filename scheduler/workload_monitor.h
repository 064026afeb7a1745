// The per-workload monitor, like podman's conmon: a process of tandem's own that records the
// workload in the state store, runs it on its isolation backend, keeps its output in a log file,
// and records how it ended. It is in a session of its own and does not need the tandem that
// started it: that tandem may exit (`run -d`) or die, and the workload runs on. If the monitor
// itself dies, the workload dies with it (both backends tie it to their parent's life), and the
// next tandem command finds the record lost (scheduler/recovery.h).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "common/isolation_backend.h"
#include "common/process.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "common/workload.h"
#include "scheduler/admission.h"
#include "scheduler/log_relay.h"
#include "scheduler/restart_policy.h"

namespace tandem::scheduler {

struct MonitorRequest {
  std::string stateRoot;
  Isolation level = Isolation::kContainer;
  std::string reason;  // why that level
  // Detached: stdin is /dev/null and the output goes to the log only. Attached: the workload
  // reads the caller's stdin, and its output goes to the caller's stdout and stderr as well.
  bool detached = false;
  // What it holds of the host while it runs, and, for admission, what the host has (nullopt:
  // no check). Refused when full, or with `queueFor`, waited for up to that long.
  Reservation reservation;
  std::optional<Capacity> capacity;
  std::chrono::milliseconds queueFor{0};
  // Whether the workload runs again when it ends (scheduler/restart_policy.h).
  RestartPolicy restart;
  // How big its log may grow (scheduler/log_relay.h).
  LogLimits logLimits;
};

// What the monitor tells the tandem that started it.
struct MonitorReport {
  enum class Kind { kQueued, kStarted, kEnded };
  Kind kind = Kind::kEnded;
  pid_t workloadPid = 0;  // kStarted
  int exitCode = 0;       // kEnded
  std::string message;    // kQueued: what it waits for; kEnded: why it could not start, an OOM
                          // kill; empty when none
};

// The signals a user sends tandem meaning the workload: passed on to the monitor, and by it to
// the workload.
sigset_t signalsPassedOn();

// <root>/workloads/<id>: the monitor's folder, holding the log.
std::string workloadDirectory(const std::string& stateRoot, const std::string& id);
std::string workloadLogPath(const std::string& stateRoot, const std::string& id);

// What a user should hear about how a workload ended, beyond its exit code: the reason it could
// not start, or its OOM kill. Empty when the code says it all.
std::string describeOutcome(const WorkloadOutcome& outcome, const Workload& workload);

class WorkloadMonitor {
 public:
  // Forks the monitor for `workload` (its id set) to run it on `backend`. Call with the signals
  // the caller means to forward blocked: the monitor inherits them blocked, and the backend
  // picks up any that arrive before it is ready.
  static Result<WorkloadMonitor> start(const Workload& workload, IsolationBackend& backend,
                                       const MonitorRequest& request);

  WorkloadMonitor(WorkloadMonitor&&) noexcept = default;
  WorkloadMonitor& operator=(WorkloadMonitor&&) noexcept = default;
  // Leaves the monitor running: it outlives this process by design.
  ~WorkloadMonitor() = default;

  pid_t pid() const { return pid_; }

  // The next report. Meanwhile each signal read from `signalFd` (a signalfd, or -1) is passed
  // on to the monitor, which passes it on to the workload. An error when the monitor ended
  // without reporting.
  Result<MonitorReport> nextReport(int signalFd);

  // Waits for the monitor to exit; for a caller that is its parent.
  Result<ExitStatus> reap();

 private:
  WorkloadMonitor(pid_t pid, UniqueFd reports) : pid_(pid), reports_(std::move(reports)) {}

  pid_t pid_ = 0;
  UniqueFd reports_;
};

}  // namespace tandem::scheduler

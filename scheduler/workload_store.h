// The record of every workload tandem runs, at both isolation levels, in SQLite under the state
// root (<root>/state.db): what was asked, which level was chosen and why, who runs it and how it
// ended. Each change is one transaction, so a tandem killed at any point leaves the store
// consistent. A running workload's owner is its monitor (scheduler/workload_monitor.h), or the
// tandem that begins it until the monitor claims it. A record still marked running whose owner is
// gone (dead, or its pid reused) reads as lost, never as running: `tandem ps` stays truthful after
// a crash, and the next command marks it lost for good (scheduler/recovery.h).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/result.h"
#include "common/sqlite_db.h"
#include "common/workload.h"
#include "scheduler/admission.h"

namespace tandem::scheduler {

enum class WorkloadState { kRunning, kExited, kLost };

const char* toString(WorkloadState state);

struct WorkloadRecord {
  std::string id;
  std::string name;
  Isolation isolation = Isolation::kContainer;
  std::string reason;  // why that level
  std::vector<std::string> command;
  WorkloadState state = WorkloadState::kRunning;
  // The tandem process that runs the workload, and its start time in clock ticks since boot
  // (field 22 of /proc/PID/stat), which tells it from a later process given the same pid.
  pid_t ownerPid = 0;
  std::uint64_t ownerStart = 0;
  // The workload's own process on the host, once started: a container's first process, or a
  // microVM's tandem-vmm. 0 before.
  pid_t workloadPid = 0;
  std::uint64_t workloadStart = 0;
  std::int64_t createdNs = 0;  // CLOCK_REALTIME
  std::int64_t startedNs = 0;
  std::int64_t finishedNs = 0;
  std::optional<int> exitCode;
  std::string message;
  Reservation reservation;  // what it holds of the host while it runs (scheduler/admission.h)
  std::string restartPolicy = "no";  // scheduler/restart_policy.h
  unsigned restartCount = 0;
};

// The record as `tandem ps --json` and `tandem inspect` show it.
nlohmann::json toJson(const WorkloadRecord& record);

class WorkloadStore {
 public:
  static Result<WorkloadStore> open(const std::string& stateRoot);

  // A record for `workload` (its id set), running under this process and holding
  // `reservation`. A name that a running workload holds is refused, naming that workload. With a
  // `capacity`, so is a workload that does not fit beside the running ones (EAGAIN, saying what
  // is short): the check and the record are one transaction.
  Status begin(const Workload& workload, Isolation level, const std::string& reason,
               const Reservation& reservation = {},
               const std::optional<Capacity>& capacity = std::nullopt,
               const std::string& restartPolicy = "no");
  // The workload's process is `workloadPid`.
  Status started(const std::string& id, pid_t workloadPid);
  // The workload ended with `exitCode` (125: tandem failed to run it), and what tandem said about
  // it, if anything (why it could not start, an OOM kill).
  Status finish(const std::string& id, int exitCode, const std::string& message = "");
  // Its monitor runs it again, for the `count`th time; the last run ended with `lastExitCode`.
  Status restarted(const std::string& id, unsigned count, int lastExitCode);
  // A user stopped it (tandem stop, kill, rm -f): its monitor must not restart it.
  Status requestStop(const std::string& id);
  Result<bool> stopRequested(const std::string& id);
  // A record that reads as lost is marked so for good, unless its owner changed since it was
  // read.
  Status markLost(const WorkloadRecord& record);
  Status remove(const std::string& id);

  // What the running workloads (their owners alive) hold of the host.
  Result<std::vector<Reservation>> runningReservations();
  // The records still marked running whose owner is gone.
  Result<std::vector<WorkloadRecord>> unmarkedLost();
  // Every record, newest first.
  Result<std::vector<WorkloadRecord>> list();
  // The record `reference` names: a full id, else the one id it begins (at least 4 characters),
  // else the newest record of that name. ENOENT when none does.
  Result<WorkloadRecord> find(const std::string& reference);

 private:
  explicit WorkloadStore(SqliteDb db) : db_(std::move(db)) {}

  SqliteDb db_;
};

}  // namespace tandem::scheduler

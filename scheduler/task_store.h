// The record of every task tandem runs (scheduler/task_definition.h), beside the workload
// records in the state database: its definition, the isolation chosen and why, its supervisor,
// the workload that holds its network (the sandbox), each container's workload and health, and
// how it ended. Like a workload record, a task whose supervisor is gone reads as lost, never as
// running.
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
#include "scheduler/task_progress.h"

namespace tandem::scheduler {

enum class TaskState { kRunning, kStopped, kLost };
const char* toString(TaskState state);

struct TaskContainerRecord {
  std::string name;
  std::string workloadId;  // empty until it starts
  HealthStatus health = HealthStatus::kNone;
};

struct TaskRecord {
  std::string id;
  std::string family;
  Isolation isolation = Isolation::kContainer;
  std::string reason;
  std::string definition;  // the task definition's JSON, as given
  TaskState state = TaskState::kRunning;
  pid_t ownerPid = 0;  // the supervisor
  std::uint64_t ownerStart = 0;
  std::string sandboxId;
  std::int64_t createdNs = 0;
  std::int64_t finishedNs = 0;
  std::optional<int> exitCode;
  std::string stoppedReason;
  std::vector<TaskContainerRecord> containers;  // in the definition's order
  std::string serviceId;  // the service that started it (service_store.h); empty for task run
};

nlohmann::json toJson(const TaskRecord& record);

class TaskStore {
 public:
  static Result<TaskStore> open(const std::string& stateRoot);

  // A record for `task` (id, family, isolation, reason, definition and container names set),
  // owned by this process.
  Status begin(const TaskRecord& task);
  Status setSandbox(const std::string& taskId, const std::string& workloadId);
  Status containerStarted(const std::string& taskId, const std::string& name,
                          const std::string& workloadId);
  Status setHealth(const std::string& taskId, const std::string& name, HealthStatus health);
  Status finish(const std::string& taskId, int exitCode, const std::string& reason);
  // A user (tandem task stop) or a service's controller asked it to stop, for `reason`, which
  // becomes its stopped reason; its supervisor stops its containers.
  Status requestStop(const std::string& taskId, const std::string& reason = "stopped by a user");
  Result<bool> stopRequested(const std::string& taskId);
  Status markLost(const TaskRecord& record);
  Status remove(const std::string& taskId);

  // Every record, newest first.
  Result<std::vector<TaskRecord>> list();
  // The records of service `serviceId`'s tasks that are running (or lost, not yet marked) or
  // ended at `endedSinceNs` or later, newest first: what its controller looks at every tick,
  // without reading every task the service ever ran.
  Result<std::vector<TaskRecord>> listOfService(const std::string& serviceId,
                                                std::int64_t endedSinceNs);
  // By full id, else the one id it begins (4 characters or more), else the newest of that
  // family.
  Result<TaskRecord> find(const std::string& reference);

 private:
  explicit TaskStore(SqliteDb db) : db_(std::move(db)) {}
  Result<std::vector<TaskContainerRecord>> containersOf(const std::string& taskId);
  Result<std::vector<TaskRecord>> recordsOf(SqliteStatement& select);

  SqliteDb db_;
};

}  // namespace tandem::scheduler

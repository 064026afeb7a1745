#include "scheduler/task_store.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/process_identity.h"
#include "scheduler/state_db.h"

namespace tandem::scheduler {
namespace {

constexpr const char* kColumns =
    "id, family, isolation, reason, definition, state, owner_pid, owner_start, sandbox_id, "
    "created_ns, finished_ns, exit_code, stopped_reason, service_id";

HealthStatus parseHealth(const std::string& text) {
  for (HealthStatus status :
       {HealthStatus::kStarting, HealthStatus::kHealthy, HealthStatus::kUnhealthy}) {
    if (text == toString(status)) return status;
  }
  return HealthStatus::kNone;
}

TaskRecord recordFrom(const SqliteStatement& row) {
  TaskRecord record;
  record.id = row.text(0);
  record.family = row.text(1);
  if (auto level = parseIsolation(row.text(2))) record.isolation = *level;
  record.reason = row.text(3);
  record.definition = row.text(4);
  record.ownerPid = static_cast<pid_t>(row.integer(6));
  record.ownerStart = static_cast<std::uint64_t>(row.integer(7));
  record.sandboxId = row.text(8);
  record.createdNs = row.integer(9);
  record.finishedNs = row.integer(10);
  if (!row.isNull(11)) record.exitCode = static_cast<int>(row.integer(11));
  record.stoppedReason = row.text(12);
  record.serviceId = row.text(13);
  std::string state = row.text(5);
  if (state == "stopped") {
    record.state = TaskState::kStopped;
  } else if (state == "lost") {
    record.state = TaskState::kLost;
  } else {
    record.state =
        sameProcess(record.ownerPid, record.ownerStart) ? TaskState::kRunning : TaskState::kLost;
  }
  return record;
}

}  // namespace

const char* toString(TaskState state) {
  switch (state) {
    case TaskState::kRunning:
      return "running";
    case TaskState::kStopped:
      return "stopped";
    case TaskState::kLost:
      return "lost";
  }
  return "unknown";
}

nlohmann::json toJson(const TaskRecord& record) {
  nlohmann::json containers = nlohmann::json::array();
  for (const TaskContainerRecord& container : record.containers) {
    nlohmann::json entry = {{"name", container.name}, {"health", toString(container.health)}};
    if (!container.workloadId.empty()) entry["workload_id"] = container.workloadId;
    containers.push_back(std::move(entry));
  }
  nlohmann::json json = {{"id", record.id},
                         {"family", record.family},
                         {"isolation", toString(record.isolation)},
                         {"reason", record.reason},
                         {"state", toString(record.state)},
                         {"supervisor_pid", record.ownerPid},
                         {"created_ns", record.createdNs},
                         {"containers", std::move(containers)}};
  if (!record.sandboxId.empty()) json["sandbox_id"] = record.sandboxId;
  if (!record.serviceId.empty()) json["service_id"] = record.serviceId;
  if (record.exitCode) json["exit_code"] = *record.exitCode;
  if (!record.stoppedReason.empty()) json["stopped_reason"] = record.stoppedReason;
  if (record.finishedNs != 0) json["finished_ns"] = record.finishedNs;
  return json;
}

Result<TaskStore> TaskStore::open(const std::string& stateRoot) {
  TANDEM_ASSIGN_OR_RETURN(SqliteDb db, openStateDb(stateRoot));
  return TaskStore(std::move(db));
}

Status TaskStore::begin(const TaskRecord& task) {
  auto start = processStartTime(::getpid());
  if (!start) {
    return Error("cannot read this process's start time from /proc/self/stat");
  }
  TANDEM_ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::write(db_));
  TANDEM_ASSIGN_OR_RETURN(
      SqliteStatement insert,
      db_.prepare("INSERT INTO tasks (id, family, isolation, reason, definition, state, "
                  "owner_pid, owner_start, created_ns, service_id) VALUES (?1, ?2, ?3, ?4, ?5, "
                  "'running', ?6, ?7, ?8, NULLIF(?9, ''))"));
  insert.bind(1, task.id)
      .bind(2, task.family)
      .bind(3, toString(task.isolation))
      .bind(4, task.reason)
      .bind(5, task.definition)
      .bind(6, std::int64_t{::getpid()})
      .bind(7, static_cast<std::int64_t>(*start))
      .bind(8, nowNs())
      .bind(9, task.serviceId);
  TANDEM_TRY(insert.run());
  std::int64_t position = 0;
  for (const TaskContainerRecord& container : task.containers) {
    TANDEM_ASSIGN_OR_RETURN(
        SqliteStatement member,
        db_.prepare("INSERT INTO task_containers (task_id, position, name, health) "
                    "VALUES (?1, ?2, ?3, ?4)"));
    member.bind(1, task.id)
        .bind(2, position++)
        .bind(3, container.name)
        .bind(4, toString(container.health));
    TANDEM_TRY(member.run());
  }
  return transaction.commit();
}

Status TaskStore::setSandbox(const std::string& taskId, const std::string& workloadId) {
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement update,
                          db_.prepare("UPDATE tasks SET sandbox_id = ?2 WHERE id = ?1"));
  update.bind(1, taskId).bind(2, workloadId);
  return update.run();
}

Status TaskStore::containerStarted(const std::string& taskId, const std::string& name,
                                   const std::string& workloadId) {
  TANDEM_ASSIGN_OR_RETURN(
      SqliteStatement update,
      db_.prepare("UPDATE task_containers SET workload_id = ?3 WHERE task_id = ?1 AND name = ?2"));
  update.bind(1, taskId).bind(2, name).bind(3, workloadId);
  return update.run();
}

Status TaskStore::setHealth(const std::string& taskId, const std::string& name,
                            HealthStatus health) {
  TANDEM_ASSIGN_OR_RETURN(
      SqliteStatement update,
      db_.prepare("UPDATE task_containers SET health = ?3 WHERE task_id = ?1 AND name = ?2"));
  update.bind(1, taskId).bind(2, name).bind(3, toString(health));
  return update.run();
}

Status TaskStore::finish(const std::string& taskId, int exitCode, const std::string& reason) {
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement update,
                          db_.prepare("UPDATE tasks SET state = 'stopped', finished_ns = ?2, "
                                      "exit_code = ?3, stopped_reason = COALESCE(stopped_reason, "
                                      "?4) WHERE id = ?1"));
  update.bind(1, taskId).bind(2, nowNs()).bind(3, std::int64_t{exitCode}).bind(4, reason);
  return update.run();
}

Status TaskStore::requestStop(const std::string& taskId, const std::string& reason) {
  TANDEM_ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::write(db_));
  TANDEM_TRY(scheduler::requestStop(db_, "tasks", taskId));
  TANDEM_ASSIGN_OR_RETURN(
      SqliteStatement update,
      db_.prepare("UPDATE tasks SET stopped_reason = ?2 WHERE id = ?1 AND stopped_reason IS NULL"));
  update.bind(1, taskId).bind(2, reason);
  TANDEM_TRY(update.run());
  return transaction.commit();
}

Result<bool> TaskStore::stopRequested(const std::string& taskId) {
  return scheduler::stopRequested(db_, "tasks", taskId);
}

Status TaskStore::markLost(const TaskRecord& record) {
  return scheduler::markLost(db_, "tasks", record.id, record.ownerPid, record.ownerStart);
}

Status TaskStore::remove(const std::string& taskId) {
  return removeRow(db_, "tasks", taskId);
}

Result<std::vector<TaskContainerRecord>> TaskStore::containersOf(const std::string& taskId) {
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement select,
                          db_.prepare("SELECT name, workload_id, health FROM task_containers "
                                      "WHERE task_id = ?1 ORDER BY position"));
  select.bind(1, taskId);
  std::vector<TaskContainerRecord> containers;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    containers.push_back({select.text(0), select.text(1), parseHealth(select.text(2))});
  }
  return containers;
}

Result<std::vector<TaskRecord>> TaskStore::list() {
  TANDEM_ASSIGN_OR_RETURN(
      SqliteStatement select,
      db_.prepare(std::string("SELECT ") + kColumns + " FROM tasks ORDER BY created_ns DESC, id"));
  return recordsOf(select);
}

Result<std::vector<TaskRecord>> TaskStore::listOfService(const std::string& serviceId,
                                                         std::int64_t endedSinceNs) {
  TANDEM_ASSIGN_OR_RETURN(
      SqliteStatement select,
      db_.prepare(std::string("SELECT ") + kColumns +
                  " FROM tasks WHERE service_id = ?1 AND (state = 'running' OR finished_ns >= ?2)"
                  " ORDER BY created_ns DESC, id"));
  select.bind(1, serviceId).bind(2, endedSinceNs);
  return recordsOf(select);
}

Result<std::vector<TaskRecord>> TaskStore::recordsOf(SqliteStatement& select) {
  std::vector<TaskRecord> records;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    records.push_back(recordFrom(select));
  }
  for (TaskRecord& record : records) {
    TANDEM_ASSIGN_OR_RETURN(record.containers, containersOf(record.id));
  }
  return records;
}

Result<TaskRecord> TaskStore::find(const std::string& reference) {
  TANDEM_ASSIGN_OR_RETURN(std::vector<TaskRecord> records, list());
  TANDEM_ASSIGN_OR_RETURN(
      const TaskRecord* found,
      findReference(records, reference, "task",
                    [](const TaskRecord& record) -> const std::string& { return record.family; }));
  if (found == nullptr) {
    return Error("no task has the family or id \"" + reference + "\"; tandem task ps -a lists them",
                 ENOENT);
  }
  return *found;
}

}  // namespace tandem::scheduler

#include "scheduler/workload_store.h"

#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "common/process_identity.h"
#include "scheduler/state_db.h"

namespace tandem::scheduler {
namespace {

constexpr const char* kColumns =
    "id, name, isolation, reason, command, state, owner_pid, owner_start, workload_pid, "
    "workload_start, created_ns, started_ns, finished_ns, exit_code, message, reserved_memory, "
    "reserved_cpu_milli, restart_policy, restart_count";

WorkloadRecord recordFrom(const SqliteStatement& row) {
  WorkloadRecord record;
  record.id = row.text(0);
  record.name = row.text(1);
  if (auto level = parseIsolation(row.text(2))) record.isolation = *level;
  record.reason = row.text(3);
  auto command = nlohmann::json::parse(row.text(4), nullptr, /*allow_exceptions=*/false);
  if (command.is_array()) {
    for (const auto& word : command) {
      if (word.is_string()) record.command.push_back(word.get<std::string>());
    }
  }
  record.ownerPid = static_cast<pid_t>(row.integer(6));
  record.ownerStart = static_cast<std::uint64_t>(row.integer(7));
  record.workloadPid = static_cast<pid_t>(row.integer(8));
  record.workloadStart = static_cast<std::uint64_t>(row.integer(9));
  record.createdNs = row.integer(10);
  record.startedNs = row.integer(11);
  record.finishedNs = row.integer(12);
  if (!row.isNull(13)) record.exitCode = static_cast<int>(row.integer(13));
  record.message = row.text(14);
  record.reservation.memoryBytes = static_cast<std::uint64_t>(row.integer(15));
  record.reservation.cpuMilli = static_cast<std::uint64_t>(row.integer(16));
  record.restartPolicy = row.text(17);
  record.restartCount = static_cast<unsigned>(row.integer(18));
  std::string state = row.text(5);
  if (state == "exited") {
    record.state = WorkloadState::kExited;
  } else if (state == "lost") {
    record.state = WorkloadState::kLost;
  } else {
    record.state = sameProcess(record.ownerPid, record.ownerStart) ? WorkloadState::kRunning
                                                                   : WorkloadState::kLost;
  }
  return record;
}

}  // namespace

const char* toString(WorkloadState state) {
  switch (state) {
    case WorkloadState::kRunning:
      return "running";
    case WorkloadState::kExited:
      return "exited";
    case WorkloadState::kLost:
      return "lost";
  }
  return "unknown";
}

nlohmann::json toJson(const WorkloadRecord& record) {
  nlohmann::json json = {{"id", record.id},
                         {"name", record.name},
                         {"isolation", toString(record.isolation)},
                         {"reason", record.reason},
                         {"command", record.command},
                         {"state", toString(record.state)},
                         {"owner_pid", record.ownerPid},
                         {"created_ns", record.createdNs}};
  if (record.workloadPid != 0) json["workload_pid"] = record.workloadPid;
  if (record.startedNs != 0) json["started_ns"] = record.startedNs;
  json["restart_policy"] = record.restartPolicy;
  json["restart_count"] = record.restartCount;
  json["reserved"] = {{"memory_bytes", record.reservation.memoryBytes},
                      {"cpu_milli", record.reservation.cpuMilli}};
  if (record.exitCode) json["exit_code"] = *record.exitCode;
  if (!record.message.empty()) json["message"] = record.message;
  if (record.finishedNs != 0) json["finished_ns"] = record.finishedNs;
  return json;
}

Result<WorkloadStore> WorkloadStore::open(const std::string& stateRoot) {
  TANDEM_ASSIGN_OR_RETURN(SqliteDb db, openStateDb(stateRoot));
  return WorkloadStore(std::move(db));
}

Status WorkloadStore::begin(const Workload& workload, Isolation level, const std::string& reason,
                            const Reservation& reservation, const std::optional<Capacity>& capacity,
                            const std::string& restartPolicy) {
  auto start = processStartTime(::getpid());
  if (!start) {
    return Error("cannot read this process's start time from /proc/self/stat");
  }
  TANDEM_ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::write(db_));
  if (!workload.name.empty()) {
    TANDEM_ASSIGN_OR_RETURN(SqliteStatement holders,
                            db_.prepare("SELECT id, owner_pid, owner_start FROM workloads "
                                        "WHERE name = ?1 AND state = 'running'"));
    holders.bind(1, workload.name);
    for (;;) {
      TANDEM_ASSIGN_OR_RETURN(bool row, holders.step());
      if (!row) break;
      if (sameProcess(static_cast<pid_t>(holders.integer(1)),
                      static_cast<std::uint64_t>(holders.integer(2)))) {
        return Error("the name \"" + workload.name + "\" belongs to the running workload " +
                         holders.text(0).substr(0, 12) + "; choose another --name",
                     EEXIST);
      }
    }
  }
  if (capacity) {
    // In the same transaction as the insert: two tandems cannot both take the last room.
    TANDEM_ASSIGN_OR_RETURN(std::vector<Reservation> running, runningReservations());
    TANDEM_TRY(admit(*capacity, running, reservation));
  }
  TANDEM_ASSIGN_OR_RETURN(
      SqliteStatement insert,
      db_.prepare("INSERT INTO workloads (id, name, isolation, reason, command, state, "
                  "owner_pid, owner_start, created_ns, reserved_memory, reserved_cpu_milli, "
                  "restart_policy) VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7, ?8, ?9, ?10, "
                  "?11)"));
  insert.bind(1, workload.id)
      .bind(2, workload.name)
      .bind(3, toString(level))
      .bind(4, reason)
      .bind(5, nlohmann::json(workload.command).dump())
      .bind(6, std::int64_t{::getpid()})
      .bind(7, static_cast<std::int64_t>(*start))
      .bind(8, nowNs())
      .bind(9, static_cast<std::int64_t>(reservation.memoryBytes))
      .bind(10, static_cast<std::int64_t>(reservation.cpuMilli))
      .bind(11, restartPolicy);
  TANDEM_TRY(insert.run());
  return transaction.commit();
}

Status WorkloadStore::started(const std::string& id, pid_t workloadPid) {
  auto start = processStartTime(workloadPid);
  if (!start) {
    return Error("cannot read the start time of workload " + id + "'s process " +
                 std::to_string(workloadPid) + " from /proc");
  }
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement update,
                          db_.prepare("UPDATE workloads SET workload_pid = ?2, workload_start = "
                                      "?3, started_ns = ?4 WHERE id = ?1 AND state = 'running'"));
  update.bind(1, id)
      .bind(2, std::int64_t{workloadPid})
      .bind(3, static_cast<std::int64_t>(*start))
      .bind(4, nowNs());
  TANDEM_TRY(update.run());
  if (db_.changes() != 1) {
    return Error("workload " + id + " has no running record to update in " + db_.path(), ENOENT);
  }
  return okStatus();
}

Status WorkloadStore::finish(const std::string& id, int exitCode, const std::string& message) {
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement update,
                          db_.prepare("UPDATE workloads SET state = 'exited', finished_ns = ?2, "
                                      "exit_code = ?3, message = ?4 WHERE id = ?1"));
  update.bind(1, id)
      .bind(2, nowNs())
      .bind(3, std::int64_t{exitCode})
      .bindNullable(4, message.empty() ? std::nullopt : std::optional<std::string>(message));
  return update.run();
}

Result<std::vector<Reservation>> WorkloadStore::runningReservations() {
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement held,
                          db_.prepare("SELECT reserved_memory, reserved_cpu_milli, owner_pid, "
                                      "owner_start FROM workloads WHERE state = 'running'"));
  std::vector<Reservation> running;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(bool row, held.step());
    if (!row) break;
    if (sameProcess(static_cast<pid_t>(held.integer(2)),
                    static_cast<std::uint64_t>(held.integer(3)))) {
      running.push_back({static_cast<std::uint64_t>(held.integer(0)),
                         static_cast<std::uint64_t>(held.integer(1))});
    }
  }
  return running;
}

Status WorkloadStore::restarted(const std::string& id, unsigned count, int lastExitCode) {
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement update,
                          db_.prepare("UPDATE workloads SET restart_count = ?2, exit_code = ?3, "
                                      "workload_pid = NULL, workload_start = NULL "
                                      "WHERE id = ?1 AND state = 'running'"));
  update.bind(1, id).bind(2, std::int64_t{count}).bind(3, std::int64_t{lastExitCode});
  return update.run();
}

Status WorkloadStore::requestStop(const std::string& id) {
  return scheduler::requestStop(db_, "workloads", id);
}

Result<bool> WorkloadStore::stopRequested(const std::string& id) {
  return scheduler::stopRequested(db_, "workloads", id);
}

Status WorkloadStore::markLost(const WorkloadRecord& record) {
  return scheduler::markLost(db_, "workloads", record.id, record.ownerPid, record.ownerStart);
}

Status WorkloadStore::remove(const std::string& id) {
  return removeRow(db_, "workloads", id);
}

Result<std::vector<WorkloadRecord>> WorkloadStore::list() {
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement select,
                          db_.prepare(std::string("SELECT ") + kColumns +
                                      " FROM workloads ORDER BY created_ns DESC, id"));
  std::vector<WorkloadRecord> records;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    records.push_back(recordFrom(select));
  }
  return records;
}

Result<std::vector<WorkloadRecord>> WorkloadStore::unmarkedLost() {
  TANDEM_ASSIGN_OR_RETURN(
      SqliteStatement select,
      db_.prepare(std::string("SELECT ") + kColumns + " FROM workloads WHERE state = 'running'"));
  std::vector<WorkloadRecord> lost;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    WorkloadRecord record = recordFrom(select);
    if (record.state == WorkloadState::kLost) lost.push_back(std::move(record));
  }
  return lost;
}

Result<WorkloadRecord> WorkloadStore::find(const std::string& reference) {
  TANDEM_ASSIGN_OR_RETURN(std::vector<WorkloadRecord> records, list());
  // Newest first: of several ended workloads that had the name, the latest.
  TANDEM_ASSIGN_OR_RETURN(const WorkloadRecord* found,
                          findReference(records, reference, "workload",
                                        [](const WorkloadRecord& record) -> const std::string& {
                                          return record.name;
                                        }));
  if (found == nullptr) {
    return Error(
        "no workload is named or has the id \"" + reference + "\"; tandem ps -a lists them",
        ENOENT);
  }
  return *found;
}

}  // namespace tandem::scheduler

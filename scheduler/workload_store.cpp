#include "scheduler/workload_store.h"

#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "common/file.h"

namespace tandem::scheduler {
namespace {

constexpr auto kBusyTimeout = std::chrono::milliseconds(5000);

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS workloads (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  isolation TEXT NOT NULL,
  reason TEXT NOT NULL,
  command TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'exited')),
  owner_pid INTEGER NOT NULL,
  owner_start INTEGER NOT NULL,
  created_ns INTEGER NOT NULL,
  finished_ns INTEGER,
  exit_code INTEGER
);
CREATE INDEX IF NOT EXISTS workloads_by_name ON workloads (name);
)";

std::int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A running record's owner still being the process that took it, not a later one given its pid.
bool ownerAlive(pid_t pid, std::uint64_t start) {
  auto now = processStartTime(pid);
  return now && *now == start;
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
  if (record.exitCode) json["exit_code"] = *record.exitCode;
  if (record.finishedNs != 0) json["finished_ns"] = record.finishedNs;
  return json;
}

std::optional<std::uint64_t> processStartTime(pid_t pid) {
  auto text = readFile("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields after it
  // are counted from the last ')'.
  auto close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::size_t at = close + 2;
  for (int field = 3; field < 22; ++field) {
    at = text->find(' ', at);
    if (at == std::string::npos) return std::nullopt;
    ++at;
  }
  try {
    return std::stoull(text->substr(at));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Result<WorkloadStore> WorkloadStore::open(const std::string& stateRoot) {
  TANDEM_TRY(makeDirectories(stateRoot, 0700));
  TANDEM_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::open(stateRoot + "/state.db", kBusyTimeout));
  TANDEM_TRY(db.exec(kSchema));
  return WorkloadStore(std::move(db));
}

Status WorkloadStore::begin(const Workload& workload, Isolation level, const std::string& reason) {
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
      if (ownerAlive(static_cast<pid_t>(holders.integer(1)),
                     static_cast<std::uint64_t>(holders.integer(2)))) {
        return Error("the name \"" + workload.name + "\" belongs to the running workload " +
                         holders.text(0).substr(0, 12) + "; choose another --name",
                     EEXIST);
      }
    }
  }
  TANDEM_ASSIGN_OR_RETURN(
      SqliteStatement insert,
      db_.prepare("INSERT INTO workloads (id, name, isolation, reason, command, state, "
                  "owner_pid, owner_start, created_ns) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7, ?8)"));
  insert.bind(1, workload.id)
      .bind(2, workload.name)
      .bind(3, toString(level))
      .bind(4, reason)
      .bind(5, nlohmann::json(workload.command).dump())
      .bind(6, std::int64_t{::getpid()})
      .bind(7, static_cast<std::int64_t>(*start))
      .bind(8, nowNs());
  TANDEM_TRY(insert.run());
  return transaction.commit();
}

Status WorkloadStore::finish(const std::string& id, int exitCode) {
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement update,
                          db_.prepare("UPDATE workloads SET state = 'exited', finished_ns = ?2, "
                                      "exit_code = ?3 WHERE id = ?1"));
  update.bind(1, id).bind(2, nowNs()).bind(3, std::int64_t{exitCode});
  return update.run();
}

Status WorkloadStore::remove(const std::string& id) {
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement erase,
                          db_.prepare("DELETE FROM workloads WHERE id = ?1"));
  erase.bind(1, id);
  return erase.run();
}

Result<std::vector<WorkloadRecord>> WorkloadStore::list() {
  TANDEM_ASSIGN_OR_RETURN(
      SqliteStatement select,
      db_.prepare("SELECT id, name, isolation, reason, command, state, owner_pid, owner_start, "
                  "created_ns, finished_ns, exit_code FROM workloads "
                  "ORDER BY created_ns DESC, id"));
  std::vector<WorkloadRecord> records;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    WorkloadRecord record;
    record.id = select.text(0);
    record.name = select.text(1);
    TANDEM_ASSIGN_OR_RETURN(record.isolation, parseIsolation(select.text(2)));
    record.reason = select.text(3);
    auto command = nlohmann::json::parse(select.text(4), nullptr, /*allow_exceptions=*/false);
    if (command.is_array()) {
      for (const auto& word : command) {
        if (word.is_string()) record.command.push_back(word.get<std::string>());
      }
    }
    record.ownerPid = static_cast<pid_t>(select.integer(6));
    record.ownerStart = static_cast<std::uint64_t>(select.integer(7));
    record.createdNs = select.integer(8);
    record.finishedNs = select.integer(9);
    if (!select.isNull(10)) record.exitCode = static_cast<int>(select.integer(10));
    if (select.text(5) == "exited") {
      record.state = WorkloadState::kExited;
    } else {
      record.state = ownerAlive(record.ownerPid, record.ownerStart) ? WorkloadState::kRunning
                                                                    : WorkloadState::kLost;
    }
    records.push_back(std::move(record));
  }
  return records;
}

Result<WorkloadRecord> WorkloadStore::find(const std::string& reference) {
  TANDEM_ASSIGN_OR_RETURN(std::vector<WorkloadRecord> records, list());
  const WorkloadRecord* prefixed = nullptr;
  int prefixMatches = 0;
  for (const WorkloadRecord& record : records) {
    if (record.id == reference) return record;
    if (reference.size() >= 4 && record.id.starts_with(reference)) {
      prefixed = &record;
      ++prefixMatches;
    }
  }
  if (prefixMatches > 1) {
    return Error("\"" + reference + "\" begins " + std::to_string(prefixMatches) +
                     " workload ids; give more of the id",
                 EINVAL);
  }
  if (prefixed != nullptr) return *prefixed;
  // Newest first: of several ended workloads that had the name, the latest.
  for (const WorkloadRecord& record : records) {
    if (!record.name.empty() && record.name == reference) return record;
  }
  return Error("no workload is named or has the id \"" + reference + "\"; tandem ps -a lists them",
               ENOENT);
}

}  // namespace tandem::scheduler

#include "scheduler/state_db.h"

#include <chrono>

#include "common/file.h"

namespace tandem::scheduler {
namespace {

constexpr auto kBusyTimeout = std::chrono::milliseconds(5000);

// The schema's version lives in SQLite's user_version. Version 1 (user_version 0) knew neither
// the workload's own process nor a lost state; version 2 had no tasks, version 3 no services.
constexpr std::int64_t kSchemaVersion = 4;

constexpr const char* kCreateWorkloads = R"(
CREATE TABLE workloads (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  isolation TEXT NOT NULL,
  reason TEXT NOT NULL,
  command TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'exited', 'lost')),
  owner_pid INTEGER NOT NULL,
  owner_start INTEGER NOT NULL,
  workload_pid INTEGER,
  workload_start INTEGER,
  reserved_memory INTEGER NOT NULL DEFAULT 0,
  reserved_cpu_milli INTEGER NOT NULL DEFAULT 0,
  restart_policy TEXT NOT NULL DEFAULT 'no',
  restart_count INTEGER NOT NULL DEFAULT 0,
  stop_requested INTEGER NOT NULL DEFAULT 0,
  created_ns INTEGER NOT NULL,
  started_ns INTEGER,
  finished_ns INTEGER,
  exit_code INTEGER,
  message TEXT
);
CREATE INDEX workloads_by_name ON workloads (name);
)";

// SQLite cannot change a CHECK constraint in place: the version 1 table is copied into a new one.
constexpr const char* kMigrateFromVersion1 = R"(
ALTER TABLE workloads RENAME TO workloads_v1;
DROP INDEX IF EXISTS workloads_by_name;
)";
constexpr const char* kCopyVersion1 = R"(
INSERT INTO workloads (id, name, isolation, reason, command, state, owner_pid, owner_start,
                       created_ns, finished_ns, exit_code)
  SELECT id, name, isolation, reason, command, state, owner_pid, owner_start, created_ns,
         finished_ns, exit_code FROM workloads_v1;
DROP TABLE workloads_v1;
)";

// A task's owner is its supervisor; its containers are workloads of their own, by id once
// started, and the sandbox is the workload that holds the task's network.
constexpr const char* kCreateTasks = R"(
CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  family TEXT NOT NULL,
  isolation TEXT NOT NULL,
  reason TEXT NOT NULL,
  definition TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'stopped', 'lost')),
  owner_pid INTEGER NOT NULL,
  owner_start INTEGER NOT NULL,
  sandbox_id TEXT,
  stop_requested INTEGER NOT NULL DEFAULT 0,
  created_ns INTEGER NOT NULL,
  finished_ns INTEGER,
  exit_code INTEGER,
  stopped_reason TEXT
);
CREATE TABLE task_containers (
  task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  name TEXT NOT NULL,
  workload_id TEXT,
  health TEXT NOT NULL DEFAULT 'none',
  PRIMARY KEY (task_id, name)
);
)";

// A service's owner is its controller, which keeps `desired` tasks of its definition running;
// each task it started names it.
constexpr const char* kCreateServices = R"(
CREATE TABLE services (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  isolation TEXT NOT NULL,
  reason TEXT NOT NULL,
  definition TEXT NOT NULL,
  desired INTEGER NOT NULL CHECK (desired >= 0),
  state TEXT NOT NULL CHECK (state IN ('running', 'stopped', 'lost')),
  owner_pid INTEGER NOT NULL,
  owner_start INTEGER NOT NULL,
  stop_requested INTEGER NOT NULL DEFAULT 0,
  created_ns INTEGER NOT NULL,
  finished_ns INTEGER,
  replaced INTEGER NOT NULL DEFAULT 0,
  last_event TEXT NOT NULL DEFAULT ''
);
ALTER TABLE tasks ADD COLUMN service_id TEXT;
)";

Result<std::int64_t> schemaVersion(SqliteDb& db) {
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement version, db.prepare("PRAGMA user_version"));
  TANDEM_ASSIGN_OR_RETURN(bool row, version.step());
  return row ? version.integer(0) : 0;
}

Result<bool> hasWorkloadsTable(SqliteDb& db) {
  TANDEM_ASSIGN_OR_RETURN(
      SqliteStatement table,
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'workloads'"));
  return table.step();
}

// Brings the database to kSchemaVersion in one transaction: a tandem killed halfway leaves the
// old schema whole, and the next one migrates again.
Status migrate(SqliteDb& db) {
  TANDEM_ASSIGN_OR_RETURN(std::int64_t version, schemaVersion(db));
  if (version == kSchemaVersion) return okStatus();
  TANDEM_ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::write(db));
  // Another tandem may have migrated while this one waited for the write lock.
  TANDEM_ASSIGN_OR_RETURN(version, schemaVersion(db));
  if (version == kSchemaVersion) return okStatus();
  if (version > kSchemaVersion) {
    return Error("the state database " + db.path() + " has schema version " +
                     std::to_string(version) + ", newer than this tandem knows (" +
                     std::to_string(kSchemaVersion) + "); run the tandem that wrote it",
                 EPROTO);
  }
  if (version < 2) {
    TANDEM_ASSIGN_OR_RETURN(bool existing, hasWorkloadsTable(db));
    if (existing) TANDEM_TRY(db.exec(kMigrateFromVersion1));
    TANDEM_TRY(db.exec(kCreateWorkloads));
    if (existing) TANDEM_TRY(db.exec(kCopyVersion1));
  }
  if (version < 3) TANDEM_TRY(db.exec(kCreateTasks));
  TANDEM_TRY(db.exec(kCreateServices));
  TANDEM_TRY(db.exec("PRAGMA user_version = 4"));
  return transaction.commit();
}

}  // namespace

std::int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<SqliteDb> openStateDb(const std::string& stateRoot) {
  TANDEM_TRY(makeDirectories(stateRoot, 0700));
  TANDEM_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::open(stateRoot + "/state.db", kBusyTimeout));
  TANDEM_TRY(db.exec("PRAGMA foreign_keys = ON"));
  TANDEM_TRY(migrate(db));
  return db;
}

Status requestStop(SqliteDb& db, std::string_view table, const std::string& id) {
  TANDEM_ASSIGN_OR_RETURN(
      SqliteStatement update,
      db.prepare("UPDATE " + std::string(table) + " SET stop_requested = 1 WHERE id = ?1"));
  update.bind(1, id);
  return update.run();
}

Result<bool> stopRequested(SqliteDb& db, std::string_view table, const std::string& id) {
  TANDEM_ASSIGN_OR_RETURN(
      SqliteStatement select,
      db.prepare("SELECT stop_requested FROM " + std::string(table) + " WHERE id = ?1"));
  select.bind(1, id);
  TANDEM_ASSIGN_OR_RETURN(bool row, select.step());
  return row && select.integer(0) != 0;
}

Status markLost(SqliteDb& db, std::string_view table, const std::string& id, pid_t ownerPid,
                std::uint64_t ownerStart) {
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement update,
                          db.prepare("UPDATE " + std::string(table) +
                                     " SET state = 'lost', finished_ns = ?2 WHERE id = ?1 AND "
                                     "state = 'running' AND owner_pid = ?3 AND owner_start = ?4"));
  update.bind(1, id)
      .bind(2, nowNs())
      .bind(3, std::int64_t{ownerPid})
      .bind(4, static_cast<std::int64_t>(ownerStart));
  return update.run();
}

Status removeRow(SqliteDb& db, std::string_view table, const std::string& id) {
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement erase,
                          db.prepare("DELETE FROM " + std::string(table) + " WHERE id = ?1"));
  erase.bind(1, id);
  return erase.run();
}

}  // namespace tandem::scheduler

// The state database, <root>/state.db: one SQLite file for the records of workloads
// (scheduler/workload_store.h), tasks (scheduler/task_store.h) and services
// (scheduler/service_store.h), brought to this tandem's
// schema when opened.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/sqlite_db.h"

namespace tandem::scheduler {

// Creates the state root and the database as needed, and migrates an older schema in one
// transaction. A schema newer than this tandem's is refused.
Result<SqliteDb> openStateDb(const std::string& stateRoot);

// Nanoseconds since the epoch (CLOCK_REALTIME), as the records keep times.
std::int64_t nowNs();

// What the `workloads`, `tasks` and `services` tables share: rows named by id, a flag a user
// sets to ask the row's owner to stop, and an owner (owner_pid, owner_start) whose death makes
// a running row lost. `table` is one of the three, never user input.
Status requestStop(SqliteDb& db, std::string_view table, const std::string& id);
Result<bool> stopRequested(SqliteDb& db, std::string_view table, const std::string& id);
// Only while its owner is still the dead one: an owner that claimed it since is alive.
Status markLost(SqliteDb& db, std::string_view table, const std::string& id, pid_t ownerPid,
                std::uint64_t ownerStart);
Status removeRow(SqliteDb& db, std::string_view table, const std::string& id);

// The record `reference` names among `records` (newest first): a full id, else the one id it
// begins (4 characters or more), else the newest whose nameOf(record) it equals; nullptr for
// none, EINVAL for a prefix of several ids, with `kind` ("workload") in the error.
template <class Record, class NameOf>
Result<const Record*> findReference(const std::vector<Record>& records,
                                    const std::string& reference, std::string_view kind,
                                    NameOf nameOf) {
  const Record* prefixed = nullptr;
  int prefixMatches = 0;
  for (const Record& record : records) {
    if (record.id == reference) return &record;
    if (reference.size() >= 4 && record.id.starts_with(reference)) {
      prefixed = &record;
      ++prefixMatches;
    }
  }
  if (prefixMatches > 1) {
    return Error("\"" + reference + "\" begins " + std::to_string(prefixMatches) + " " +
                     std::string(kind) + " ids; give more of the id",
                 EINVAL);
  }
  if (prefixed != nullptr) return prefixed;
  for (const Record& record : records) {
    const std::string& name = nameOf(record);
    if (!name.empty() && name == reference) return &record;
  }
  return static_cast<const Record*>(nullptr);
}

}  // namespace tandem::scheduler

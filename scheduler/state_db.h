// The state database, <root>/state.db: one SQLite file for the records of workloads
// (scheduler/workload_store.h) and of tasks (scheduler/task_store.h), brought to this tandem's
// schema when opened.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/sqlite_db.h"

namespace tandem::scheduler {

// Creates the state root and the database as needed, and migrates an older schema in one
// transaction. A schema newer than this tandem's is refused.
Result<SqliteDb> openStateDb(const std::string& stateRoot);

// Nanoseconds since the epoch (CLOCK_REALTIME), as the records keep times.
std::int64_t nowNs();

// What the `workloads` and `tasks` tables share: rows named by id, a flag a user sets to ask
// the row's owner to stop, and an owner (owner_pid, owner_start) whose death makes a running
// row lost. `table` is one of the two, never user input.
Status requestStop(SqliteDb& db, std::string_view table, const std::string& id);
Result<bool> stopRequested(SqliteDb& db, std::string_view table, const std::string& id);
// Only while its owner is still the dead one: an owner that claimed it since is alive.
Status markLost(SqliteDb& db, std::string_view table, const std::string& id, pid_t ownerPid,
                std::uint64_t ownerStart);
Status removeRow(SqliteDb& db, std::string_view table, const std::string& id);

}  // namespace tandem::scheduler

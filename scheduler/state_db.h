// The state database, <root>/state.db: one SQLite file for the records of workloads
// (scheduler/workload_store.h) and of tasks (scheduler/task_store.h), brought to this tandem's
// schema when opened.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "common/sqlite_db.h"

namespace tandem::scheduler {

// Creates the state root and the database as needed, and migrates an older schema in one
// transaction. A schema newer than this tandem's is refused.
Result<SqliteDb> openStateDb(const std::string& stateRoot);

// Nanoseconds since the epoch (CLOCK_REALTIME), as the records keep times.
std::int64_t nowNs();

}  // namespace tandem::scheduler

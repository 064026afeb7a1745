// The workload store as the CLI's verbs use it: opened, and first repaired after any crash (a
// lost workload is marked, what it left removed, and the user told on stderr).
#pragma once

#include "common/result.h"
#include "scheduler/workload_store.h"
#include "tools/tandem/commands.h"

namespace tandem::cli {

Result<scheduler::WorkloadStore> openWorkloadStore(const GlobalOptions& global);

}  // namespace tandem::cli

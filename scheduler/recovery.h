// What the next tandem command does after a crash. A record still marked running whose monitor
// is gone is marked lost for good; what the workload left on the host is removed (a process
// that outlived its monitor, a container's cgroup), and what could not be is said.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "common/isolation_backend.h"
#include "common/result.h"
#include "scheduler/workload_store.h"

namespace tandem::scheduler {

// One line a lost workload, for the user: which, what was done, what is left.
Result<std::vector<std::string>> recoverLostWorkloads(
    WorkloadStore& store, std::initializer_list<IsolationBackend*> backends);

}  // namespace tandem::scheduler

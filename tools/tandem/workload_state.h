// The workload store and the isolation backends as the CLI's verbs use them: the store opened and
// first repaired after any crash (a lost workload is marked, what it left removed, and the user
// told on stderr), and each level's backend at hand for what only it knows of its workloads.
#pragma once

#include "common/isolation_backend.h"
#include "common/result.h"
#include "container/runtime.h"
#include "scheduler/workload_store.h"
#include "tools/tandem/commands.h"
#include "vmm/vm_backend.h"

namespace tandem::cli {

class Backends {
 public:
  explicit Backends(const GlobalOptions& global);
  IsolationBackend& of(Isolation level);

 private:
  container::ContainerBackend containers_;
  vmm::VmBackend vms_;
};

Result<scheduler::WorkloadStore> openWorkloadStore(const GlobalOptions& global);

// tandem rm: an ended or lost workload's record and what its run kept under the state root;
// with `force`, a running one is killed (SIGKILL) first.
Status removeWorkload(const GlobalOptions& global, scheduler::WorkloadStore& store,
                      const std::string& reference, bool force);

}  // namespace tandem::cli

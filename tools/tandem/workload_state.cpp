#include "tools/tandem/workload_state.h"

#include <iostream>

#include "scheduler/recovery.h"

namespace tandem::cli {

Backends::Backends(const GlobalOptions& global)
    : containers_(container::RuntimeConfig{global.stateRoot}),
      vms_(vmm::VmBackendConfig{.stateRoot = global.stateRoot}) {}

IsolationBackend& Backends::of(Isolation level) {
  if (level == Isolation::kVm) return vms_;
  return containers_;
}

Result<scheduler::WorkloadStore> openWorkloadStore(const GlobalOptions& global) {
  TANDEM_ASSIGN_OR_RETURN(scheduler::WorkloadStore store,
                          scheduler::WorkloadStore::open(global.stateRoot));
  Backends backends(global);
  TANDEM_ASSIGN_OR_RETURN(
      std::vector<std::string> recovered,
      scheduler::recoverLostWorkloads(
          store, {&backends.of(Isolation::kContainer), &backends.of(Isolation::kVm)}));
  for (const std::string& line : recovered) {
    std::cerr << "tandem: " << line << "\n";
  }
  return store;
}

}  // namespace tandem::cli

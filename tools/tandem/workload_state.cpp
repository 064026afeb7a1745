#include "tools/tandem/workload_state.h"

#include <iostream>

#include "container/runtime.h"
#include "scheduler/recovery.h"
#include "vmm/vm_backend.h"

namespace tandem::cli {

Result<scheduler::WorkloadStore> openWorkloadStore(const GlobalOptions& global) {
  TANDEM_ASSIGN_OR_RETURN(scheduler::WorkloadStore store,
                          scheduler::WorkloadStore::open(global.stateRoot));
  container::ContainerBackend containers(container::RuntimeConfig{global.stateRoot});
  vmm::VmBackend vms(vmm::VmBackendConfig{.stateRoot = global.stateRoot});
  TANDEM_ASSIGN_OR_RETURN(std::vector<std::string> recovered,
                          scheduler::recoverLostWorkloads(store, {&containers, &vms}));
  for (const std::string& line : recovered) {
    std::cerr << "tandem: " << line << "\n";
  }
  return store;
}

}  // namespace tandem::cli

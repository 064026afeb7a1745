#include "tools/tandem/workload_state.h"

#include <iostream>

#include "common/file.h"
#include "scheduler/recovery.h"
#include "scheduler/workload_control.h"
#include "scheduler/workload_monitor.h"

namespace tandem::cli {

Backends::Backends(const GlobalOptions& global)
    : containers_(container::RuntimeConfig{global.stateRoot}),
      vms_(vmm::VmBackendConfig{.kernelPath = vmm::defaultGuestKernel(),
                                .guestInitPath = vmm::defaultGuestInit(),
                                .stateRoot = global.stateRoot}) {}

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

Status removeWorkload(const GlobalOptions& global, scheduler::WorkloadStore& store,
                      const std::string& reference, bool force) {
  TANDEM_ASSIGN_OR_RETURN(scheduler::WorkloadRecord record, store.find(reference));
  if (record.state == scheduler::WorkloadState::kRunning) {
    if (!force) {
      return Error("workload " + record.id.substr(0, 12) +
                       " is running under its monitor, process " + std::to_string(record.ownerPid) +
                       "; stop it first, or use rm -f",
                   EBUSY);
    }
    // A workload still starting has no process to kill yet: its monitor takes the SIGTERM
    // and passes it on once the workload runs.
    TANDEM_TRY(store.requestStop(record.id));
    TANDEM_TRY(scheduler::deliver(record, record.workloadPid != 0 ? SIGKILL : SIGTERM));
    TANDEM_ASSIGN_OR_RETURN(bool ended, scheduler::awaitEnd(record, std::chrono::seconds(30)));
    if (!ended) {
      return Error("workload " + record.id.substr(0, 12) + " did not end within 30 s of a kill",
                   ETIMEDOUT);
    }
  }
  // What a kept run leaves: its folder under each part of the state root.
  for (const std::string& folder : {global.stateRoot + "/containers/" + record.id,
                                    vmm::vmStateDirectory(global.stateRoot, record.id),
                                    scheduler::workloadDirectory(global.stateRoot, record.id)}) {
    TANDEM_TRY(removeTree(folder));
  }
  return store.remove(record.id);
}

}  // namespace tandem::cli

#include "scheduler/recovery.h"

#include <signal.h>

#include "common/process_identity.h"

namespace tandem::scheduler {

Result<std::vector<std::string>> recoverLostWorkloads(
    WorkloadStore& store, std::initializer_list<IsolationBackend*> backends) {
  TANDEM_ASSIGN_OR_RETURN(std::vector<WorkloadRecord> lost, store.unmarkedLost());
  std::vector<std::string> said;
  for (const WorkloadRecord& record : lost) {
    std::string line = "workload " + record.id.substr(0, 12) +
                       (record.name.empty() ? "" : " (" + record.name + ")") +
                       " was lost: its monitor, process " + std::to_string(record.ownerPid) +
                       ", died";
    // Both backends tie the workload's life to the monitor's; a process that outlived it anyway
    // has nobody to report its end, and is stopped.
    if (auto leftover = openProcess(record.workloadPid, record.workloadStart)) {
      if (auto killed = signalProcess(leftover->get(), SIGKILL); killed) {
        line += "; its process " + std::to_string(record.workloadPid) + " was killed";
      } else {
        line += "; " + killed.error().describe();
      }
    }
    for (IsolationBackend* backend : backends) {
      if (backend->level() != record.isolation) continue;
      if (auto cleaned = backend->cleanUpAfter(record.id); !cleaned) {
        line += "; " + cleaned.error().describe();
      }
    }
    TANDEM_TRY(store.markLost(record));
    said.push_back(line + "; tandem rm " + record.id.substr(0, 12) + " removes its record");
  }
  return said;
}

}  // namespace tandem::scheduler

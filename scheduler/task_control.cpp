#include "scheduler/task_control.h"

#include <signal.h>

#include "scheduler/workload_control.h"

namespace tandem::scheduler {

std::vector<std::string> memberWorkloads(const TaskRecord& record) {
  std::vector<std::string> ids;
  for (const auto& container : record.containers) {
    if (!container.workloadId.empty()) ids.push_back(container.workloadId);
  }
  if (!record.sandboxId.empty()) ids.push_back(record.sandboxId);
  return ids;
}

Status stopLeftovers(TaskStore& tasks, WorkloadStore& workloads, const TaskRecord& record,
                     const std::string& reason) {
  for (const std::string& id : memberWorkloads(record)) {
    auto member = workloads.find(id);
    if (!member || member->state != WorkloadState::kRunning) continue;
    TANDEM_TRY(workloads.requestStop(id));
    TANDEM_TRY(deliver(*member, SIGKILL));
    TANDEM_ASSIGN_OR_RETURN(bool ended, awaitEnd(*member, std::nullopt));
    (void)ended;  // waited for without a deadline: it ended
  }
  if (record.state == TaskState::kLost) {
    TANDEM_TRY(tasks.finish(record.id, 137, reason));
  }
  return okStatus();
}

}  // namespace tandem::scheduler

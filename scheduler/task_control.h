// Acting on a task from a process other than its supervisor: ending what a task whose
// supervisor was lost left running (tandem task stop, and a service's controller replacing it).
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "scheduler/task_store.h"
#include "scheduler/workload_store.h"

namespace tandem::scheduler {

// The workloads a task ran: its containers' and its sandbox's.
std::vector<std::string> memberWorkloads(const TaskRecord& record);

// Kills (SIGKILL) each of the task's workloads still running and waits for its monitor to record
// the end; then, for a lost task, records the task's end with `reason`.
Status stopLeftovers(TaskStore& tasks, WorkloadStore& workloads, const TaskRecord& record,
                     const std::string& reason);

}  // namespace tandem::scheduler

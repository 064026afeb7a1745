// `tandem task run`: from a checked task definition to the supervisor's plan. Each container
// becomes a workload of its own (its image's defaults under the definition's command,
// entryPoint, environment and limits) that joins the network of the task's sandbox: a static
// pause process whose network namespace the task's containers share, pod-like, and which
// publishes the task's ports.
#pragma once

#include <string>

#include "common/isolation_backend.h"
#include "common/result.h"
#include "common/workload.h"
#include "scheduler/task_definition.h"
#include "scheduler/task_supervisor.h"

namespace tandem::cli {

// The level a task runs at: --isolation (`requested`) unless auto, else the definition's; an
// error when that is VM level and this host cannot run microVMs, saying why.
Result<Isolation> taskLevel(const scheduler::TaskDefinition& definition, Isolation requested,
                            const IsolationBackend& vms);

// `requested` is --isolation; kAuto leaves the choice to the definition's and then to policy.
Result<scheduler::TaskPlan> planTask(const std::string& stateRoot,
                                     const scheduler::TaskDefinition& definition,
                                     const std::string& definitionText, Isolation requested);

}  // namespace tandem::cli

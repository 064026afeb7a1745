// `tandem task run`: from a checked task definition to the supervisor's plan. Each container
// becomes a workload of its own (its image's defaults under the definition's command,
// entryPoint, environment and limits) that joins the network of the task's sandbox: a static
// pause process whose network namespace the task's containers share, pod-like, and which
// publishes the task's ports.
#pragma once

#include <string>

#include <boost/program_options.hpp>

#include "common/isolation_backend.h"
#include "common/result.h"
#include "common/workload.h"
#include "scheduler/isolation_policy.h"
#include "scheduler/task_definition.h"
#include "scheduler/task_supervisor.h"

namespace tandem::cli {

// What --isolation auto weighs for a task, as `tandem run` takes it for a workload.
struct TaskPlacement {
  Isolation requested = Isolation::kAuto;  // --isolation; auto leaves it to the definition's
  std::string trust = "unknown";
  std::string workloadClass;
  std::string policyPath;  // empty: /etc/tandem/policy.json if there is one
};

// The options `task run` and `service create` take for TaskPlacement.
boost::program_options::options_description taskPlacementOptions();
Result<TaskPlacement> taskPlacementFrom(const boost::program_options::variables_map& vm);

// The level a task runs at and why: --isolation, else the definition's, else the policy's
// choice (scheduler/isolation_policy.h) for a workload of the task's memory and CPU. A level this
// host cannot run, or the policy forbids, is an error saying so.
Result<scheduler::IsolationChoice> chooseTaskLevel(const scheduler::TaskDefinition& definition,
                                                   const TaskPlacement& placement,
                                                   const IsolationBackend& containers,
                                                   const IsolationBackend& vms);

// A task definition read from `path` and checked, with the level chosen for it.
struct LoadedTask {
  std::string text;
  scheduler::TaskDefinition definition;
  scheduler::IsolationChoice choice;
};
Result<LoadedTask> loadTask(const std::string& path, const TaskPlacement& placement,
                            const IsolationBackend& containers, const IsolationBackend& vms);

// The plan of one run of `definition` at `choice`'s level.
Result<scheduler::TaskPlan> planTask(const std::string& stateRoot,
                                     const scheduler::TaskDefinition& definition,
                                     const std::string& definitionText,
                                     const scheduler::IsolationChoice& choice);

}  // namespace tandem::cli

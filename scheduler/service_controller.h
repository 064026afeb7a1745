// The controller of one service, as ECS's service scheduler is for a service: a process of
// tandem's own, in a session of its own, that keeps the service's desired count of tasks of its
// definition running. Every half second it compares the service's running tasks (their records
// name it) with its desired count (tandem service scale changes it in the record) and acts, by
// the rules of scheduler/service_reconcile.h: it starts tasks, each with a supervisor of its own
// (task_supervisor.h), stops the newest extras, and stops and replaces a task whose essential
// container fails its health checks or that ended. Tasks that keep failing at once are started
// again with a growing delay (restart_policy.h's). It watches records, not its children, so a
// controller started again for a lost service takes over the tasks that ran on.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "common/isolation_backend.h"
#include "common/result.h"
#include "scheduler/task_definition.h"
#include "scheduler/task_supervisor.h"

namespace tandem::scheduler {

struct ServicePlan {
  std::string stateRoot;
  std::string serviceId;
  TaskDefinition definition;
  // One more task of the service, planned afresh (new ids, images resolved).
  std::function<Result<TaskPlan>()> planTask;
  // Where a task planned at `level` runs.
  std::function<IsolationBackend&(Isolation level)> backendFor;
};

// Where a service's controller logs.
std::string serviceLogPath(const std::string& stateRoot, const std::string& serviceId);

// Makes this process the service's controller, in a session of its own and logging to
// serviceLogPath: it claims the service's record and runs until the service is removed (tandem
// service rm, or SIGTERM, SIGINT or SIGHUP to it), then stops every task of the service, records
// the service as stopped and exits. A process of its own, exec'd for the purpose: SQLite's
// per-process state must not reach it through a fork from a process that has the database open.
[[noreturn]] void runServiceController(const ServicePlan& plan);

}  // namespace tandem::scheduler

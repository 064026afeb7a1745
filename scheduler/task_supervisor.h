// The supervisor of one task, as the ECS agent is of a task on its instance: a process of
// tandem's own, in a session of its own, that records the task, starts its sandbox (the
// workload that holds the network its containers share), starts each container once its
// dependsOn conditions hold, runs their health checks, stops the task when an essential
// container ends (or a condition can no longer hold, or a user asks), and records how it ended.
// Each container is a workload of its own, with its own monitor (scheduler/workload_monitor.h):
// logs, exec, stats and ps work on it as on any other. The tandem that started the supervisor
// may exit (task run -d) or die; the task runs on.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/isolation_backend.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "common/workload.h"
#include "scheduler/admission.h"
#include "scheduler/task_definition.h"
#include "scheduler/task_store.h"

namespace tandem::scheduler {

struct TaskPlan {
  std::string stateRoot;
  TaskRecord record;  // id, family, isolation, reason, definition and container names
  TaskDefinition definition;
  // Holds the task's network and publishes its ports; its id set. At VM level, the microVM the
  // task's containers run in (vmm/task_vm.h).
  Workload sandbox;
  // One per container of the definition, in its order, ids set; each joins the sandbox's
  // network when it starts.
  std::vector<Workload> containers;
  std::vector<Reservation> reservations;  // one per container
  // What the sandbox holds of the host: nothing at container level; at VM level, the task's
  // microVM's memory and CPU, which its containers then share.
  Reservation sandboxReservation;
  std::optional<Capacity> capacity;
  // The command line that runs a command in a running workload when given the workload's id and
  // the command after it (tandem exec): how health checks run.
  std::vector<std::string> execCommand;
  // How long a stopping container has between SIGTERM and SIGKILL when its definition gives no
  // stopTimeout.
  std::chrono::milliseconds stopTimeout{std::chrono::seconds(10)};
};

struct TaskReport {
  enum class Kind { kRunning, kEnded };
  Kind kind = Kind::kEnded;
  int exitCode = 0;     // kEnded: the task's (scheduler/task_progress.h)
  std::string message;  // kEnded: why it stopped
};

// Where a task's supervisor logs.
std::string taskLogPath(const std::string& stateRoot, const std::string& taskId);

class TaskSupervisor {
 public:
  // Forks the supervisor. Call with scheduler::signalsPassedOn() blocked: SIGTERM or SIGINT to
  // the supervisor stops the task.
  static Result<TaskSupervisor> start(const TaskPlan& plan, IsolationBackend& backend);

  TaskSupervisor(TaskSupervisor&&) noexcept = default;
  TaskSupervisor& operator=(TaskSupervisor&&) noexcept = default;
  // Leaves the supervisor running: it outlives this process by design.
  ~TaskSupervisor() = default;

  pid_t pid() const { return pid_; }

  // The next report: kRunning once the sandbox and the containers that need nothing run, then
  // kEnded. Each signal read from `signalFd` (or -1) meanwhile goes on to the supervisor.
  Result<TaskReport> nextReport(int signalFd);

 private:
  TaskSupervisor(pid_t pid, UniqueFd reports) : pid_(pid), reports_(std::move(reports)) {}

  pid_t pid_ = 0;
  UniqueFd reports_;
};

}  // namespace tandem::scheduler

// How a running task moves on, as ECS runs one: which of its containers may start now that their
// dependsOn conditions hold, when the task must stop (an essential container ended, or a
// condition can no longer be met), and when it is over. Pure: the task supervisor observes its
// containers and acts on the answer.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/task_definition.h"

namespace tandem::scheduler {

enum class HealthStatus { kNone, kStarting, kHealthy, kUnhealthy };
const char* toString(HealthStatus status);

enum class ContainerPhase { kPending, kRunning, kExited };
const char* toString(ContainerPhase phase);

struct ContainerStatus {
  ContainerPhase phase = ContainerPhase::kPending;
  std::optional<int> exitCode;  // kExited
  HealthStatus health = HealthStatus::kNone;
  std::string message;  // kExited: what tandem said of its end (why it could not start), if any
};

struct TaskStep {
  std::vector<std::size_t> start;  // pending containers whose conditions all hold
  // Set when the task must stop: the reason, as ECS's stoppedReason.
  std::optional<std::string> stop;
  // With a stop for an essential container's end: that container's exit code, the task's.
  std::optional<int> exitCode;
  // Nothing runs and nothing more can start.
  bool over = false;
};

// `statuses` has one entry per container of `task`, in its order.
TaskStep nextStep(const TaskDefinition& task, const std::vector<ContainerStatus>& statuses);

// The task's exit code: the first essential container's that exited, else the first
// container's; 0 when none exited.
int taskExitCode(const TaskDefinition& task, const std::vector<ContainerStatus>& statuses);

}  // namespace tandem::scheduler

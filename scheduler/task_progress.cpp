#include "scheduler/task_progress.h"

#include <algorithm>

namespace tandem::scheduler {

const char* toString(HealthStatus status) {
  switch (status) {
    case HealthStatus::kNone:
      return "none";
    case HealthStatus::kStarting:
      return "starting";
    case HealthStatus::kHealthy:
      return "healthy";
    case HealthStatus::kUnhealthy:
      return "unhealthy";
  }
  return "unknown";
}

const char* toString(ContainerPhase phase) {
  switch (phase) {
    case ContainerPhase::kPending:
      return "pending";
    case ContainerPhase::kRunning:
      return "running";
    case ContainerPhase::kExited:
      return "exited";
  }
  return "unknown";
}

namespace {

enum class Condition { kHolds, kNotYet, kNever };

struct Verdict {
  Condition condition = Condition::kHolds;
  std::string why;  // with kNever
};

Verdict check(const ContainerDependency& dependency, const ContainerStatus& status) {
  const std::string& name = dependency.containerName;
  bool exited = status.phase == ContainerPhase::kExited;
  switch (dependency.condition) {
    case DependencyCondition::kStart:
      return {status.phase == ContainerPhase::kPending ? Condition::kNotYet : Condition::kHolds};
    case DependencyCondition::kComplete:
      return {exited ? Condition::kHolds : Condition::kNotYet};
    case DependencyCondition::kSuccess:
      if (!exited) return {Condition::kNotYet};
      if (status.exitCode == 0) return {Condition::kHolds};
      return {Condition::kNever,
              name + " exited with " + std::to_string(status.exitCode.value_or(-1)) + ", not 0"};
    case DependencyCondition::kHealthy:
      if (status.health == HealthStatus::kHealthy) return {Condition::kHolds};
      if (status.health == HealthStatus::kUnhealthy)
        return {Condition::kNever, name + " is unhealthy"};
      if (exited) return {Condition::kNever, name + " exited before it was healthy"};
      return {Condition::kNotYet};
  }
  return {Condition::kNotYet};
}

std::size_t indexOf(const TaskDefinition& task, const std::string& name) {
  for (std::size_t i = 0; i < task.containers.size(); ++i) {
    if (task.containers[i].name == name) return i;
  }
  return task.containers.size();
}

}  // namespace

TaskStep nextStep(const TaskDefinition& task, const std::vector<ContainerStatus>& statuses) {
  TaskStep step;
  bool running = false;
  for (std::size_t i = 0; i < task.containers.size(); ++i) {
    const ContainerDefinition& container = task.containers[i];
    const ContainerStatus& status = statuses[i];
    if (status.phase == ContainerPhase::kRunning) running = true;
    if (status.phase == ContainerPhase::kExited && container.essential && !step.stop) {
      step.stop = "essential container " + container.name + " exited with " +
                  std::to_string(status.exitCode.value_or(-1)) +
                  (status.message.empty() ? "" : ": " + status.message);
      step.exitCode = status.exitCode;
    }
  }
  for (std::size_t i = 0; i < task.containers.size() && !step.stop; ++i) {
    const ContainerDefinition& container = task.containers[i];
    if (statuses[i].phase != ContainerPhase::kPending) continue;
    bool ready = true;
    for (const ContainerDependency& dependency : container.dependsOn) {
      std::size_t target = indexOf(task, dependency.containerName);
      Verdict verdict = target < statuses.size() ? check(dependency, statuses[target])
                                                 : Verdict{Condition::kNever, "no such container"};
      if (verdict.condition == Condition::kNever) {
        step.stop = "container " + container.name + " can never start: it waits for " +
                    dependency.containerName + " " + toString(dependency.condition) + ", but " +
                    verdict.why;
        break;
      }
      ready = ready && verdict.condition == Condition::kHolds;
    }
    if (ready && !step.stop) step.start.push_back(i);
  }
  if (step.stop) step.start.clear();
  step.over = !running && step.start.empty() &&
              (step.stop.has_value() ||
               std::none_of(statuses.begin(), statuses.end(), [](const ContainerStatus& status) {
                 return status.phase == ContainerPhase::kPending;
               }));
  return step;
}

int taskExitCode(const TaskDefinition& task, const std::vector<ContainerStatus>& statuses) {
  std::optional<int> first;
  for (std::size_t i = 0; i < task.containers.size(); ++i) {
    if (statuses[i].phase != ContainerPhase::kExited || !statuses[i].exitCode) continue;
    if (task.containers[i].essential) return *statuses[i].exitCode;
    if (!first) first = statuses[i].exitCode;
  }
  return first.value_or(0);
}

}  // namespace tandem::scheduler

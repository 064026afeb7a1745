// Task definitions, as ECS writes them: a family of containers that run together as one
// isolation unit (one microVM, or containers sharing a network namespace), with task-level CPU
// and memory, each container's image, command, environment, limits, ports, essential flag,
// health check and dependencies. Parsed and checked here with errors that name the field
// ("containerDefinitions[1].dependsOn[0].condition") and what was expected; nothing here runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/workload.h"

namespace tandem::scheduler {

enum class DependencyCondition { kStart, kComplete, kSuccess, kHealthy };
const char* toString(DependencyCondition condition);

struct ContainerDependency {
  std::string containerName;
  DependencyCondition condition = DependencyCondition::kStart;
};

struct HealthCheck {
  std::vector<std::string> command;  // as given: ["CMD-SHELL", "..."] or ["CMD", ...]
  unsigned intervalSeconds = 30;
  unsigned timeoutSeconds = 5;
  unsigned retries = 3;
  unsigned startPeriodSeconds = 0;
};

struct TaskPortMapping {
  std::uint16_t containerPort = 0;
  std::optional<std::uint16_t> hostPort;
  std::string protocol = "tcp";
};

struct ContainerDefinition {
  std::string name;
  std::string image;
  std::optional<std::vector<std::string>> command;
  std::optional<std::vector<std::string>> entryPoint;
  std::vector<std::string> environment;    // "NAME=VALUE"
  std::optional<unsigned> cpuUnits;        // 1024 to a vCPU
  std::optional<std::uint64_t> memoryMiB;  // hard limit
  std::optional<std::uint64_t> memoryReservationMiB;
  std::vector<TaskPortMapping> portMappings;
  bool essential = true;
  std::optional<HealthCheck> healthCheck;
  std::vector<ContainerDependency> dependsOn;
  // Between SIGTERM and SIGKILL when the task stops; unset: the supervisor's default.
  std::optional<unsigned> stopTimeoutSeconds;
};

struct TaskDefinition {
  std::string family;
  std::optional<unsigned> cpuUnits;
  std::optional<std::uint64_t> memoryMiB;
  NetworkMode network = NetworkMode::kBridge;
  Isolation isolation = Isolation::kAuto;
  std::vector<ContainerDefinition> containers;
};

// The memory a container holds, in MiB, as ECS places it: its limit, else its reservation, else
// none.
std::uint64_t reservedMemoryMiB(const ContainerDefinition& container);

// ECS CPU units (1024 to a vCPU) as thousandths of a CPU.
std::uint64_t cpuMilliFromUnits(unsigned units);

// Parses and checks a task definition; `source` names it in errors.
Result<TaskDefinition> parseTaskDefinition(const std::string& text, const std::string& source);

// The containers' indexes in an order that starts each after those it depends on.
std::vector<std::size_t> startOrder(const TaskDefinition& task);

}  // namespace tandem::scheduler

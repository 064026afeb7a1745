// What a service's controller does next, from what it sees: a pure function of the desired
// count and the service's running tasks, so that every rule is table-tested. As ECS's service
// scheduler does:
// - a task one of whose essential containers is unhealthy is stopped, and replaced;
// - fewer tasks than desired: more start; more than desired: the newest stop;
// - a service being removed stops every task and starts none.
// Tasks that are already stopping count for nothing: their replacements start at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::scheduler {

struct ServiceTask {
  std::string id;
  std::int64_t createdNs = 0;
  bool stopping = false;   // its stop was asked for already
  bool unhealthy = false;  // an essential container's health check failed
};

struct TaskStop {
  std::string taskId;
  std::string reason;
  bool replaced = false;  // a replacement starts for it (it failed), as opposed to scaled down
};

struct ServiceStep {
  std::vector<TaskStop> stop;
  unsigned start = 0;
};

ServiceStep reconcile(unsigned desired, const std::vector<ServiceTask>& running, bool removing);

}  // namespace tandem::scheduler

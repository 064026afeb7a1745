// A container's health, as ECS and docker judge it from its healthCheck: "starting" until a
// check passes ("healthy"), "unhealthy" after `retries` failures in a row; failures within the
// start period do not count, but a pass there makes it healthy at once. Pure: the task
// supervisor runs the checks on their interval and reports each result here.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "scheduler/task_definition.h"
#include "scheduler/task_progress.h"

namespace tandem::scheduler {

class HealthTracker {
 public:
  explicit HealthTracker(const HealthCheck& check) : check_(check) {}

  // A check that ran `sinceStart` after the container started, and passed or not (a timeout is
  // a failure).
  HealthStatus record(bool passed, std::chrono::milliseconds sinceStart);
  HealthStatus status() const { return status_; }
  unsigned failuresInARow() const { return failures_; }

 private:
  HealthCheck check_;
  HealthStatus status_ = HealthStatus::kStarting;
  unsigned failures_ = 0;
};

// The command a check runs inside the container: ["CMD-SHELL", "X"] is /bin/sh -c X, ["CMD",
// ARGS...] is ARGS. The definition's parser has checked the form.
std::vector<std::string> healthCheckCommand(const HealthCheck& check);

}  // namespace tandem::scheduler

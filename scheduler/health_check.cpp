#include "scheduler/health_check.h"

namespace tandem::scheduler {

HealthStatus HealthTracker::record(bool passed, std::chrono::milliseconds sinceStart) {
  if (passed) {
    failures_ = 0;
    status_ = HealthStatus::kHealthy;
    return status_;
  }
  if (sinceStart < std::chrono::seconds(check_.startPeriodSeconds)) {
    return status_;
  }
  if (++failures_ >= check_.retries) {
    status_ = HealthStatus::kUnhealthy;
  }
  return status_;
}

std::vector<std::string> healthCheckCommand(const HealthCheck& check) {
  if (!check.command.empty() && check.command.front() == "CMD-SHELL") {
    std::string script;
    for (std::size_t i = 1; i < check.command.size(); ++i) {
      script += (i > 1 ? " " : "") + check.command[i];
    }
    return {"/bin/sh", "-c", script};
  }
  return std::vector<std::string>(check.command.begin() + (check.command.empty() ? 0 : 1),
                                  check.command.end());
}

}  // namespace tandem::scheduler

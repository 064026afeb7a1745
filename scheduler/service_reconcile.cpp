#include "scheduler/service_reconcile.h"

#include <algorithm>

namespace tandem::scheduler {

ServiceStep reconcile(unsigned desired, const std::vector<ServiceTask>& running, bool removing) {
  ServiceStep step;
  std::vector<const ServiceTask*> healthy;
  for (const ServiceTask& task : running) {
    if (task.stopping) continue;
    if (removing) {
      step.stop.push_back({task.id, "its service is being removed", false});
    } else if (task.unhealthy) {
      step.stop.push_back({task.id, "an essential container is unhealthy", true});
    } else {
      healthy.push_back(&task);
    }
  }
  if (removing) return step;
  if (healthy.size() > desired) {
    std::sort(healthy.begin(), healthy.end(), [](const ServiceTask* a, const ServiceTask* b) {
      return a->createdNs != b->createdNs ? a->createdNs > b->createdNs : a->id > b->id;
    });
    for (std::size_t i = 0; i < healthy.size() - desired; ++i) {
      step.stop.push_back({healthy[i]->id, "the service was scaled down", false});
    }
  } else {
    step.start = desired - static_cast<unsigned>(healthy.size());
  }
  return step;
}

}  // namespace tandem::scheduler

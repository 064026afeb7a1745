#include "scheduler/isolation_policy.h"

namespace tandem::scheduler {

Result<IsolationChoice> chooseIsolation(const Workload& workload, const HostFacts& host) {
  switch (workload.isolation) {
    case Isolation::kContainer:
      if (!host.container) {
        return host.container.error().context("cannot run with --isolation container");
      }
      return IsolationChoice{Isolation::kContainer, "container: requested with --isolation"};
    case Isolation::kVm:
      if (!host.vm) {
        return host.vm.error().context("cannot run with --isolation vm");
      }
      return IsolationChoice{Isolation::kVm, "vm: requested with --isolation"};
    case Isolation::kAuto:
      break;
  }
  if (host.vm) {
    return IsolationChoice{Isolation::kVm,
                           "vm: chosen automatically as the strongest isolation this host offers"};
  }
  if (host.container) {
    return IsolationChoice{Isolation::kContainer,
                           "container: chosen automatically because a microVM is not possible "
                           "here (" +
                               host.vm.error().describe() + ")"};
  }
  return Error("no isolation level can run on this host: containers: " +
               host.container.error().describe() + "; microVMs: " + host.vm.error().describe());
}

}  // namespace tandem::scheduler

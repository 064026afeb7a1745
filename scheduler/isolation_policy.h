// Decides which isolation level runs a workload, and says why in words a user can check.
#pragma once

#include <string>

#include "common/result.h"
#include "common/workload.h"

namespace tandem::scheduler {

// What this host can do right now, as the backends report it.
struct HostFacts {
  Status container;  // ok, or why containers cannot run here
  Status vm;         // ok, or why microVMs cannot run here
};

struct IsolationChoice {
  Isolation level = Isolation::kContainer;
  std::string reason;
};

// An explicit request is honoured or refused with the backend's reason; "auto" takes the
// strongest level the host offers.
Result<IsolationChoice> chooseIsolation(const Workload& workload, const HostFacts& host);

}  // namespace tandem::scheduler

// Starts the workload's main process as a child of init, with its stdio on pipes to init.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "common/workload.h"

namespace tandem::guest_init {

struct StartedWorkload {
  pid_t pid = -1;
  UniqueFd stdinPipe;   // write end, non-blocking: a workload that never reads cannot stall init
  UniqueFd stdoutPipe;  // read ends
  UniqueFd stderrPipe;
  // 125, 126 or 127 when the workload never ran (the child exits with it); the reason is then
  // waiting on stderrPipe, as the workload's own stderr would have been.
  std::optional<int> failureCode;
};

// What the child does first, before anything else of the workload's: entering a container's
// root (guest_container.h). Its error ends the child with kExitRuntimeError.
using ChildEntry = std::function<Status()>;

// Forks, and in the child: `enter` when given, rlimits, working directory (created if missing, as
// docker does), supplementary groups, gid and uid from the workload's numeric ids, then execvp with
// `env` as the whole environment. Returns once the child has exec'd or failed to.
Result<StartedWorkload> startWorkload(const Workload& workload, const std::vector<std::string>& env,
                                      const ChildEntry& enter = {});

}  // namespace tandem::guest_init

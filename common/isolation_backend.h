// The seam between the scheduler and an isolation level: one small interface that both the
// container runtime and the microVM monitor implement, each unaware of the other.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/process.h"
#include "common/result.h"
#include "common/workload.h"

namespace tandem {

struct WorkloadOutcome {
  std::string id;
  ExitStatus status;
  bool oomKilled = false;
  // Set when the isolation was built but the command could not be started: the reason, with
  // status.code 126 (not executable) or 127 (not found) by docker's convention.
  std::string launchError;
  // The workload's code, 128+N for signal N, 137 for an OOM kill.
  int exitCode() const { return oomKilled ? 137 : status.shellCode(); }
};

// What a running workload holds of the host, as `tandem stats` shows it.
struct ResourceUsage {
  std::uint64_t cpuNanos = 0;              // CPU time so far, of every process of the workload
  std::uint64_t memoryBytes = 0;           // host memory charged to it now
  std::uint64_t memoryLimitBytes = 0;      // its cap (a microVM's guest memory); 0 when none
  std::optional<std::uint64_t> processes;  // its host processes, where the backend counts them
};

class IsolationBackend {
 public:
  virtual ~IsolationBackend() = default;

  virtual Isolation level() const = 0;

  // Whether this host can run the backend at all, and if not, why (shown to the user).
  virtual Status available() const = 0;

  // Called once the workload's process exists on the host: a container's first process once it
  // runs the command, a microVM's tandem-vmm once it is spawned.
  using StartedCallback = std::function<void(pid_t workloadPid)>;

  // Runs `workload` to completion with its stdio attached, leaving nothing behind. An error
  // means the backend itself failed (exit code 125). The workload starts with no signal blocked,
  // whatever this process blocks.
  virtual Result<WorkloadOutcome> run(const Workload& workload, const StartedCallback& started) = 0;

  // Removes what workload `id` left on the host when the process that ran it died without
  // cleaning up (a cgroup, a state folder kept only for the run); nothing when there is nothing.
  virtual Status cleanUpAfter(const std::string& id) = 0;

  // What running workload `id`, whose process is `workloadPid`, uses now.
  virtual Result<ResourceUsage> usage(const std::string& id, pid_t workloadPid) const = 0;
};

}  // namespace tandem

// Runs one workload in a container: tandem's OS-level isolation backend.
#pragma once

#include <string>

#include "common/isolation_backend.h"
#include "common/result.h"
#include "common/workload.h"

namespace tandem::container {

struct RuntimeConfig {
  // Holds containers/<id> (config, writable layer, final state) and the skeleton layer.
  std::string stateRoot = "/var/lib/tandem";
  // Print where the start went (container/start_timeline.h) when the workload ends.
  bool stats = false;
};

// Runs `workload` to completion with its stdio attached. On every path the cgroup, the state
// directory (with --rm) and every process of the workload are gone when this returns. An error
// means the runtime itself failed (exit code 125).
Result<WorkloadOutcome> runContainer(Workload workload, const RuntimeConfig& config,
                                     const IsolationBackend::StartedCallback& started = {});

class ContainerBackend : public IsolationBackend {
 public:
  explicit ContainerBackend(RuntimeConfig config) : config_(std::move(config)) {}
  Isolation level() const override { return Isolation::kContainer; }
  Status available() const override;
  Result<WorkloadOutcome> run(const Workload& workload, const StartedCallback& started) override {
    return runContainer(workload, config_, started);
  }
  Status cleanUpAfter(const std::string& id) override;
  // From its cgroup; the memory limit from its recorded config.
  Result<ResourceUsage> usage(const std::string& id, pid_t workloadPid) const override;

 private:
  RuntimeConfig config_;
};

}  // namespace tandem::container

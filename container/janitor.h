// A small process that outlives the runtime only to clean up after it: if the process running the
// runtime (the workload's monitor, scheduler/workload_monitor.h) dies, even by SIGKILL, before
// dismissing it, it kills the workload's processes and removes its cgroup and, with --rm, its
// state directory.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/cgroup_layout.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem::container {

class Janitor {
 public:
  static Result<Janitor> start(const CgroupMounts& mounts, const std::string& cgroupName,
                               const std::string& stateDir, bool removeState);

  Janitor(Janitor&&) noexcept = default;
  Janitor& operator=(Janitor&&) noexcept = default;
  // Without dismiss(), closing the pipe tells the janitor to clean up.
  ~Janitor() = default;

  // The runtime cleaned up itself; the janitor exits without touching anything.
  void dismiss();

 private:
  explicit Janitor(UniqueFd pipe) : pipe_(std::move(pipe)) {}
  UniqueFd pipe_;
};

}  // namespace tandem::container

// Where a container's start goes, for `tandem run --stats`: the runtime's milestones and the
// container process's, on one clock, cut into the phases of the critical path to the workload's
// first instruction.
#pragma once

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace tandem::container {

// CLOCK_MONOTONIC in nanoseconds: one clock for the runtime and the container process, since a
// container gets no time namespace of its own from tandem.
std::int64_t monotonicNs();

// Stamped by the container process (after its re-exec, so they cross the sync socket).
struct ChildMilestones {
  std::int64_t reexecuted = 0;   // the protected copy runs
  std::int64_t rootStarted = 0;  // the runtime's state is ready; the root's mounts begin
  std::int64_t rootEntered = 0;  // pivot_root done, rlimits set
  std::int64_t inCgroup = 0;     // the runtime has put it in its cgroup
};

// Sent just before the exec; the runtime reads it once the exec has happened.
Status sendChildMilestones(int socket, const ChildMilestones& milestones);
// Reads the milestones without waiting; nothing when the container process sent none.
std::optional<ChildMilestones> receiveChildMilestones(int socket);

struct StartTimeline {
  std::int64_t origin = 0;         // the runtime took the workload
  std::int64_t cloneStarted = 0;   // clone(2) of the container process
  std::int64_t cgroupStarted = 0;  // the runtime creates the cgroup (beside the mounts)
  std::int64_t cgroupDone = 0;
  std::int64_t execSeen = 0;  // the workload's exec closed the error pipe
  std::int64_t exited = 0;
  std::optional<ChildMilestones> child;
};

// {"timeline_ms": {...}, "phases_ms": {...}, "cgroup_setup_ms": N}, keys in the order things
// happen: each phase is a stretch of the path to the exec, so that they add up to the start. The
// runtime builds the cgroup while the container process mounts its root, so "cgroups" is only
// what was left to wait for; cgroup_setup_ms is the runtime's whole work on it. Null without
// the child's milestones.
nlohmann::ordered_json startStatsJson(const StartTimeline& timeline);

}  // namespace tandem::container

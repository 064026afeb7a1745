// How tandem starts tandem-vmm, the process that runs one microVM and holds only the monitor's
// code, and how that process answers: the command line both sides agree on, and the one JSON
// document it leaves in its result file. Both directions live here so that they cannot drift.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/result.h"
#include "vmm/vm_backend.h"
#include "vmm/workload_vm.h"

namespace tandem::vmm {

struct VmmInvocation {
  VmBackendConfig config;
  // The workload as JSON (toJson), read from this descriptor to its end.
  int workloadFd = -1;
  // Where the VmRun goes as JSON; without one, tandem-vmm prints its stats and errors itself and
  // exits with the workload's code, like `tandem run`.
  int resultFd = -1;
  // A pidfd of the process tandem-vmm dies with (PR_SET_PDEATHSIG, then checked for a parent
  // gone already): a killed tandem leaves no VM behind. A pidfd, not a pid, because a jailed
  // tandem-vmm starts in a pid namespace of its own, where its parent has no pid.
  int parentPidfd = -1;
  // CLOCK_MONOTONIC nanoseconds at which tandem started: the origin of the boot timeline.
  std::optional<std::int64_t> startedAtNs;
  std::string logLevel;
};

std::vector<std::string> vmmArguments(const VmmInvocation& invocation);

// `args` without the program name. Errors name the option and say what it takes.
Result<VmmInvocation> parseVmmArguments(const std::vector<std::string>& args);

nlohmann::json vmRunToJson(const VmRun& run);
Result<VmRun> vmRunFromJson(const nlohmann::json& json);

}  // namespace tandem::vmm

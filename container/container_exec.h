// tandem exec for a container: one more process in a running container, as `runc exec` adds
// one. It joins the namespaces of the container's first process and its cgroup, and runs with
// the container's capabilities, seccomp filter and rlimits, as the user asked for or the
// container's. Like the first process, it re-executes from a copy of tandem the container cannot
// overwrite before it enters anything (CVE-2019-5736), and keeps tandem's descriptors from the
// command (CVE-2024-21626).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/isolation_backend.h"
#include "common/result.h"
#include "common/workload.h"
#include "container/container_process.h"
#include "container/runtime.h"

namespace tandem::container {

// The running container's first process, by pid and start time (common/process_identity.h).
struct ExecTarget {
  std::string id;
  pid_t pid = 0;
  std::uint64_t startTime = 0;
};

// Joins every namespace of `target` that differs from this process's (the mount namespace
// always, and last), after checking the target is still the process it was.
Status joinNamespacesOf(const ExecTarget& target);

// The container's recorded configuration, as `process` starts from before the caller sets its
// command and overrides.
Result<Workload> recordedContainer(const RuntimeConfig& config, const std::string& id);

// Runs `process` (its command, env, workdir, user, rlimits, capabilities and seccomp choice) in
// `target` with this process's stdio, stdin only when `interactive` (else /dev/null), signals to
// this process passed on to it, and returns how it ended. A command that cannot be found or run
// comes back as the outcome's launch error with 127 or 126, as at `tandem run`.
Result<WorkloadOutcome> execInContainer(const RuntimeConfig& config, const ExecTarget& target,
                                        Workload process, bool interactive);

// `tandem exec-process SYNC_FD ERROR_FD PID START`, in the protected copy: receives the
// configuration, joins the target's namespaces and starts the command. Never returns.
[[noreturn]] void continueExecProcess(const ContainerProcessConfig& config,
                                      const ExecTarget& target);

}  // namespace tandem::container

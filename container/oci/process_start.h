// The end every process of an OCI container goes through, its first and exec'd ones alike:
// rlimits, oom_score_adj, umask, working directory, environment and the executable found on the
// process's PATH; then no_new_privs, the capability sets, the user, the seccomp filter, and exec.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "common/oci/runtime_spec.h"
#include "common/result.h"

namespace tandem::container {

struct PreparedProcess {
  std::string executable;
  std::vector<std::string> env;
};

struct ProcessFailure {
  Error error;
  int exitCode = 0;  // 125, or 126/127 when the program cannot be run or found
};

// Runs inside the container, as root still: limits, cwd (made when missing), HOME from the
// container's /etc/passwd unless given, and the executable looked up on the process's PATH.
Result<PreparedProcess> prepareProcess(const oci::Process& process, int& exitCodeOnFailure);

// Drops to the process's identity and execs it. Returns only when something failed.
ProcessFailure execPrepared(const oci::Process& process, const PreparedProcess& prepared,
                            const std::vector<sock_filter>& seccompProgram);

// prepareProcess then execPrepared, reporting a failure on `errorPipe` (child_report.h).
[[noreturn]] void startProcess(const oci::Process& process,
                               const std::vector<sock_filter>& seccompProgram, int errorPipe);

}  // namespace tandem::container

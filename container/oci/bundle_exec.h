// `exec` for an OCI container: one more process, described as config.json's "process" is, in a
// running container. It joins the namespaces and the cgroup of the container's first process,
// and runs under the container's seccomp profile with its own capabilities, rlimits, user and
// no_new_privs, after re-executing from a copy of the runtime the container cannot overwrite.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"
#include "container/container_exec.h"

namespace tandem::container {

struct ExecRequest {
  std::string processText;  // a process.json
  bool detach = false;
  std::string pidFile;
  std::string consoleSocket;  // with process.terminal
};

// What crosses into the exec process's protected copy.
struct ExecProcessConfig {
  std::string processText;
  ExecTarget target;
  std::vector<sock_filter> seccompProgram;
  int syncSocket = -1;
  int errorPipe = -1;
};

std::string serializeExecProcessConfig(const ExecProcessConfig& config);
Result<ExecProcessConfig> parseExecProcessConfig(const std::string& text);

// Runs the request in `target`, whose cgroup is `cgroupPath`, with `seccompProgram`. Returns the
// process's exit code (128+N for signal N), or 0 once it runs with `detach`.
Result<int> execInBundle(const std::string& program, const ExecTarget& target,
                         const std::string& cgroupPath,
                         const std::vector<sock_filter>& seccompProgram,
                         const ExecRequest& request);

// `PROGRAM exec-process SYNC_FD ERROR_FD`, in the protected copy, once the configuration has
// arrived: joins the target, starts the process as its child, reports its pid. Never returns.
[[noreturn]] void continueBundleExecProcess(const ExecProcessConfig& config);

}  // namespace tandem::container

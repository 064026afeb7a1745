// The host's side of the guest agent (agent_protocol.h): finding a running microVM under the
// state root, reaching its agent through the vsock socket, and running one process there.
#pragma once

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "common/workload.h"
#include "vmm/agent_protocol.h"

namespace tandem::vmm {

struct RunningVm {
  Workload workload;  // as it was started (vms/<id>/config.json)
  std::string socketPath;
};

// The running microVM with this id, id prefix or name. A prefix that fits several is an error
// listing them; so is a name or id of no running microVM.
Result<RunningVm> findRunningVm(const std::string& stateRoot, const std::string& nameOrId);

// A stream to the guest agent, past the device's CONNECT handshake.
Result<UniqueFd> connectToAgent(const std::string& socketPath);

struct ExecStreams {
  int stdinFd = -1;  // -1: the process gets end-of-input at once
  int stdoutFd = 1;
  int stderrFd = 2;
};

// Runs `process` (its command, env, workdir, user and rlimits) through the agent, relaying its
// stdio, and returns how it ended. An error means the session failed: the agent refused the
// request, or the microVM went away.
Result<guest::ExecExit> execInGuest(int agent, const Workload& process, ExecStreams streams);

}  // namespace tandem::vmm

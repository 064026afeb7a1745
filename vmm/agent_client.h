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
  // kExec for a microVM of its own; kContainerExec for a task's container inside its task's
  // microVM, whose socket this is.
  guest::AgentFrame execRequest = guest::AgentFrame::kExec;
};

// The running microVM, or task container in one, with this id, id prefix or name. A prefix that
// fits several is an error listing them; so is a name or id of no running microVM.
Result<RunningVm> findRunningVm(const std::string& stateRoot, const std::string& nameOrId);

// A stream to the guest agent, past the device's CONNECT handshake.
Result<UniqueFd> connectToAgent(const std::string& socketPath);

struct ExecStreams {
  int stdinFd = -1;  // -1: the process gets end-of-input at once
  int stdoutFd = 1;
  int stderrFd = 2;
  // A signalfd, or -1: each signal read from it goes on to the process.
  int signalFd = -1;
  // Or -1: where a byte is written once a kRunContainer's container runs.
  int startedFd = -1;
};

// Runs `process` through the agent as `request` says (agent_protocol.h), relaying its stdio, and
// returns how it ended. An error means the session failed: the agent refused the request, or
// the microVM went away.
Result<guest::ExecExit> execInGuest(int agent, guest::AgentFrame request, const Workload& process,
                                    ExecStreams streams);

// What running container `id` of a task's microVM uses now, as its guest's agent reads it.
Result<guest::ContainerUsage> containerUsageInGuest(int agent, const std::string& id);

}  // namespace tandem::vmm

// The guest agent: a process beside the workload, listening on vsock port kAgentPort
// (vmm/agent_protocol.h), that runs the processes `tandem exec` asks for, and the containers of
// a task whose isolation unit is this microVM (guest_container.h), each in a handler process of
// its own with stdout and stderr kept apart. It dies with the workload: init kills every
// process once the main one has exited.
#pragma once

#include <sys/types.h>

#include "common/result.h"

namespace tandem::guest_init {

// Listens, then forks the agent; returns its pid. An error (no vsock device, say) leaves the
// workload to run without one.
Result<pid_t> startAgent();

}  // namespace tandem::guest_init

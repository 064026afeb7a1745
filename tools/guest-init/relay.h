// Init's life while the workload runs: stdio between the channel and the workload's pipes, and
// reaping, since as PID 1 every orphan in the guest becomes init's child.
#pragma once

#include "common/process.h"
#include "common/result.h"
#include "tools/guest-init/spawn.h"
#include "tools/guest-init/stdio_channel.h"

namespace tandem::guest_init {

// Runs until the main process has exited and its output is drained, and returns how it ended.
// Once it is gone, every other process is killed: background processes still holding its
// stdout would otherwise keep the guest up forever. SIGCHLD must be blocked by the caller since
// before the fork, so that no exit goes unnoticed.
Result<ExitStatus> relayUntilExit(StdioChannel& channel, StartedWorkload& workload);

}  // namespace tandem::guest_init

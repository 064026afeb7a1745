// The runtime's side of a workload: forwards signals to it, copies a pty's traffic between the
// user's terminal and the container, and waits for it to exit.
#pragma once

#include <sys/types.h>

#include "common/process.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem::container {

// `signals` is a signalfd for forwardedSignals(), created before the workload was cloned.
// `master` is the pty master, or invalid without --tty.
Result<ExitStatus> superviseWorkload(pid_t pid, int signals, UniqueFd master);

}  // namespace tandem::container

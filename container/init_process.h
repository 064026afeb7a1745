// tandem's own minimal init for --init: PID 1 of the container reaps every orphan and forwards
// signals to the workload, which then need not handle either, as tini does for docker.
#pragma once

#include <sys/types.h>

namespace tandem::container {

// Runs as PID 1 until `workload` exits, then exits with its status (128+N for signal N).
// Every signal but SIGCHLD must be blocked by the caller before `workload` was forked, so none is
// lost in between.
[[noreturn]] void runInit(pid_t workload);

}  // namespace tandem::container

// A process named by its pid and its start time, so that a pid the kernel has since given to
// another process is never mistaken for it: how the state store records monitors and workloads,
// and how `tandem stop`, `kill` and `wait` reach them from another process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem {

// Start time of process `pid` in clock ticks since boot (field 22 of /proc/PID/stat), or
// nullopt when there is none.
std::optional<std::uint64_t> processStartTime(pid_t pid);

// Whether `pid` is still the process that started at `startTime`, and has not ended (a zombie
// has).
bool sameProcess(pid_t pid, std::uint64_t startTime);

// What a process uses now: its CPU time (user and system, every thread) and resident memory.
struct ProcessUsage {
  std::uint64_t cpuNanos = 0;
  std::uint64_t rssBytes = 0;
};
Result<ProcessUsage> processUsage(pid_t pid);

// A pidfd for `pid`, checked to be the process that started at `startTime`: once open it names
// that process for good, even after its pid is reused. ESRCH when that process is gone.
Result<UniqueFd> openProcess(pid_t pid, std::uint64_t startTime);

// Sends `signal` through a pidfd from openProcess.
Status signalProcess(int pidfd, int signal);

// Waits until the process behind `pidfd` has ended, at most `timeout` (forever when nullopt).
// True when it ended.
Result<bool> waitProcessEnd(int pidfd, std::optional<std::chrono::milliseconds> timeout);

}  // namespace tandem

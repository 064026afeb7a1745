// The decisions the guest init shares with tandem's container runtime, kept free of system
// calls so they are tested on the host: the workload's environment, what a failed exec exits
// with, and how the workload's end becomes a status word for the VMM.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/process.h"
#include "common/workload.h"

namespace tandem::guest_init {

// Docker's default, which tandem's containers get too.
inline constexpr const char* kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Exactly the workload's environment, plus the default PATH if it sets none: execvp searches
// the workload's PATH, never init's.
std::vector<std::string> workloadEnvironment(const Workload& workload);

// 127 when the command was not found, 126 when it was found but could not be executed.
int execFailureCode(int errnum);

// kExited with the code, or kSignaled with the signal number.
std::uint32_t exitStatusWord(const ExitStatus& status);

}  // namespace tandem::guest_init

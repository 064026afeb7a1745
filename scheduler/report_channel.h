// The socket over which a process tandem forks to own work (a workload's monitor, a task's
// supervisor) tells the tandem that started it how that work goes: one JSON datagram a report.
// The sender may outlive its reader (run -d, or a killed tandem); the reader passes the
// signals it receives on to the sender meanwhile.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "common/result.h"

namespace tandem::scheduler {

// Sends one report; a reader that is gone is no error (EPIPE, never SIGPIPE).
void sendReport(int socket, const nlohmann::json& report);

// The next report's text from `sender`, or nullopt once it closed the socket without one. Each
// signal read from `signalFd` (or -1) meanwhile is sent on to `sender`; `whose` names it in
// errors ("the workload's monitor").
Result<std::optional<std::string>> awaitReport(int socket, int signalFd, pid_t sender,
                                               std::string_view whose);

}  // namespace tandem::scheduler

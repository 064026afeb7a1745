// Restart policies, as docker's --restart: no, on-failure[:N] (a non-zero exit, at most N
// times; no N, no limit) and always (any end, unless a user stopped it). Between runs the
// monitor waits 100 ms, doubling with each restart up to a minute; a run that lasted 10 s or
// more starts the doubling again.
#pragma once

#include <chrono>
#include <string>

#include "common/result.h"

namespace tandem::scheduler {

struct RestartPolicy {
  enum class Kind { kNo, kOnFailure, kAlways };
  Kind kind = Kind::kNo;
  unsigned maxRetries = 0;  // on-failure's N; 0: no limit
};

Result<RestartPolicy> parseRestartPolicy(const std::string& text);
std::string toString(const RestartPolicy& policy);

// Whether a run that ended with `exitCode`, after `restarts` restarts so far, runs again.
bool shouldRestart(const RestartPolicy& policy, int exitCode, unsigned restarts,
                   bool stopRequested);

// A run that lasted this long was no failure at start: the delays start over after it.
inline constexpr std::chrono::milliseconds kStableRun{10'000};

// The wait before restart number `restart` (1 for the first), given how long the run lasted.
std::chrono::milliseconds restartDelay(unsigned restart, std::chrono::milliseconds ranFor);

}  // namespace tandem::scheduler

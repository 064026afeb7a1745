#include "scheduler/restart_policy.h"

#include <charconv>

namespace tandem::scheduler {

namespace {

constexpr std::chrono::milliseconds kFirstDelay{100};
constexpr std::chrono::milliseconds kMaxDelay{60'000};

}  // namespace

Result<RestartPolicy> parseRestartPolicy(const std::string& text) {
  auto invalid = [&] {
    return Error("--restart takes no, on-failure[:N] or always, not \"" + text + "\"", EINVAL);
  };
  if (text == "no") return RestartPolicy{};
  if (text == "always") return RestartPolicy{RestartPolicy::Kind::kAlways, 0};
  if (text == "on-failure") return RestartPolicy{RestartPolicy::Kind::kOnFailure, 0};
  if (text.starts_with("on-failure:")) {
    std::string_view count = std::string_view(text).substr(11);
    unsigned n = 0;
    auto [end, error] = std::from_chars(count.data(), count.data() + count.size(), n);
    if (count.empty() || error != std::errc() || end != count.data() + count.size() || n == 0) {
      return invalid();
    }
    return RestartPolicy{RestartPolicy::Kind::kOnFailure, n};
  }
  return invalid();
}

std::string toString(const RestartPolicy& policy) {
  switch (policy.kind) {
    case RestartPolicy::Kind::kNo:
      return "no";
    case RestartPolicy::Kind::kAlways:
      return "always";
    case RestartPolicy::Kind::kOnFailure:
      break;
  }
  return policy.maxRetries ? "on-failure:" + std::to_string(policy.maxRetries) : "on-failure";
}

bool shouldRestart(const RestartPolicy& policy, int exitCode, unsigned restarts,
                   bool stopRequested) {
  if (stopRequested) return false;
  switch (policy.kind) {
    case RestartPolicy::Kind::kNo:
      return false;
    case RestartPolicy::Kind::kAlways:
      return true;
    case RestartPolicy::Kind::kOnFailure:
      break;
  }
  return exitCode != 0 && (policy.maxRetries == 0 || restarts < policy.maxRetries);
}

std::chrono::milliseconds restartDelay(unsigned restart, std::chrono::milliseconds ranFor) {
  if (ranFor >= kStableRun || restart <= 1) return kFirstDelay;
  std::chrono::milliseconds delay = kFirstDelay;
  for (unsigned i = 1; i < restart && delay < kMaxDelay; ++i) delay *= 2;
  return std::min(delay, kMaxDelay);
}

}  // namespace tandem::scheduler

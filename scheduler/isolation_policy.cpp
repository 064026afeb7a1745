#include "scheduler/isolation_policy.h"

#include <algorithm>

#include "common/file.h"
#include "common/kib_field.h"
#include "common/size.h"

namespace tandem::scheduler {

namespace {

// How the level was asked for, in the user's own terms.
std::string flag(const PlacementRequest& request, Isolation level) {
  if (!request.requestedAs.empty()) return request.requestedAs;
  return level == Isolation::kVm ? "--isolation vm" : "--isolation container";
}

std::string className(const PlacementRequest& request) {
  return request.workloadClass.empty() ? toString(request.trust) : request.workloadClass;
}

// Whether `level` can run this workload here; if not, `why` says so.
bool canRun(Isolation level, const PlacementRequest& request, const HostFacts& host,
            const ClassRule& rule, const std::string& ruleName, std::string& why) {
  if (std::find(rule.allow.begin(), rule.allow.end(), level) == rule.allow.end()) {
    why = std::string("the policy's rule \"") + ruleName + "\" does not allow " + toString(level);
    return false;
  }
  const Status& offered = level == Isolation::kVm ? host.vm : host.container;
  if (!offered) {
    why = offered.error().describe();
    return false;
  }
  std::uint64_t needed = hostMemoryFor(level, request);
  if (host.memoryAvailableBytes && needed > *host.memoryAvailableBytes) {
    why = std::string("a ") + (level == Isolation::kVm ? "microVM" : "container") + " needs " +
          formatApproximateSize(needed) + " and the host has " +
          formatApproximateSize(*host.memoryAvailableBytes) + " available";
    return false;
  }
  return true;
}

IsolationChoice chosen(Isolation level, std::string because, std::vector<std::string> considered) {
  return IsolationChoice{level, std::string(toString(level)) + ": " + because,
                         std::move(considered)};
}

}  // namespace

const char* toString(Trust trust) {
  switch (trust) {
    case Trust::kTrusted:
      return "trusted";
    case Trust::kUntrusted:
      return "untrusted";
    case Trust::kUnknown:
      break;
  }
  return "unknown";
}

Result<Trust> parseTrust(const std::string& text) {
  if (text == "trusted") return Trust::kTrusted;
  if (text == "untrusted") return Trust::kUntrusted;
  if (text == "unknown") return Trust::kUnknown;
  return Error("--trust takes trusted, untrusted or unknown, not \"" + text + "\"", EINVAL);
}

std::uint64_t hostMemoryFor(Isolation level, const PlacementRequest& request) {
  if (level == Isolation::kVm) {
    return request.memoryBytes.value_or(kDefaultGuestMemoryBytes) + kVmOverheadBytes;
  }
  return request.memoryBytes.value_or(0);
}

Result<IsolationChoice> chooseIsolation(const PlacementRequest& request, const HostFacts& host,
                                        const OperatorPolicy& policy) {
  std::string workloadClass = className(request);
  auto [rule, ruleName] = policy.ruleFor(workloadClass);
  std::vector<std::string> considered;
  considered.push_back("class \"" + workloadClass + "\"" +
                       (ruleName.empty()
                            ? ", no policy rule"
                            : ", policy rule \"" + ruleName + "\" of " + policy.source));
  std::string whyNotVm, whyNotContainer;
  bool vm = canRun(Isolation::kVm, request, host, rule, ruleName, whyNotVm);
  bool container = canRun(Isolation::kContainer, request, host, rule, ruleName, whyNotContainer);
  considered.push_back(vm ? "a microVM can run (" +
                                formatApproximateSize(hostMemoryFor(Isolation::kVm, request)) +
                                " of host memory)"
                          : "a microVM cannot run: " + whyNotVm);
  considered.push_back(container ? "a container can run"
                                 : "a container cannot run: " + whyNotContainer);

  if (request.joinsContainerNetwork) {
    // Sharing a container's network namespace is a container's affair only.
    if (request.requested == Isolation::kVm || request.trust == Trust::kUntrusted ||
        request.needsOwnKernel) {
      return Error(
          "a microVM cannot join a container's network namespace "
          "(--network container:NAME), and this workload needs a microVM");
    }
    if (!container) return Error("cannot join a container's network: " + whyNotContainer);
    return chosen(Isolation::kContainer,
                  "it joins a container's network namespace, which only a container can",
                  std::move(considered));
  }
  if (request.requested != Isolation::kAuto) {
    Isolation level = request.requested;
    bool possible = level == Isolation::kVm ? vm : container;
    if (!possible) {
      const std::string& why = level == Isolation::kVm ? whyNotVm : whyNotContainer;
      bool allowed = std::find(rule.allow.begin(), rule.allow.end(), level) != rule.allow.end();
      const Status& offered = level == Isolation::kVm ? host.vm : host.container;
      // The backend's own error keeps its errno for the user.
      if (allowed && !offered) {
        return offered.error().context(std::string("cannot run with ") + flag(request, level));
      }
      return Error(std::string("cannot run with ") + flag(request, level) + ": " + why);
    }
    return chosen(level, std::string("requested with ") + flag(request, level),
                  std::move(considered));
  }

  // 1. The policy's word for the class.
  std::optional<Isolation> ruled = rule.require;
  if (!ruled && rule.defaultLevel != Isolation::kAuto) ruled = rule.defaultLevel;
  if (ruled) {
    bool possible = *ruled == Isolation::kVm ? vm : container;
    std::string what = rule.require ? "requires" : "defaults to";
    if (possible) {
      return chosen(*ruled, "the policy's rule \"" + ruleName + "\" " + what + " it",
                    std::move(considered));
    }
    if (rule.require) {
      return Error(
          "the policy's rule \"" + ruleName + "\" requires " + toString(*ruled) +
          ", which cannot run: " + (*ruled == Isolation::kVm ? whyNotVm : whyNotContainer));
    }
    considered.push_back("the policy's default, " + std::string(toString(*ruled)) + ", cannot run");
  }

  // 2. Needs only a microVM meets.
  std::vector<std::string> needs;
  if (request.trust == Trust::kUntrusted)
    needs.push_back("untrusted code gets a kernel of its own");
  if (request.needsOwnKernel) needs.push_back("it needs a kernel of its own");
  if (!needs.empty()) {
    std::string because = needs.front();
    for (std::size_t i = 1; i < needs.size(); ++i) because += ", and " + needs[i];
    if (vm) return chosen(Isolation::kVm, because, std::move(considered));
    return Error(because + ", but a microVM cannot run: " + whyNotVm);
  }

  // 3. Preferences.
  if (container && request.trust == Trust::kTrusted) {
    return chosen(Isolation::kContainer,
                  "trusted code: a container's isolation suffices, at a fraction of a microVM's "
                  "memory and start time",
                  std::move(considered));
  }
  if (container && request.latencySensitive) {
    return chosen(Isolation::kContainer,
                  "latency-sensitive: a container starts faster than a microVM boots",
                  std::move(considered));
  }
  if (vm) {
    return chosen(Isolation::kVm,
                  "the strongest isolation this host can run, for code of " +
                      std::string(toString(request.trust)) + " trust",
                  std::move(considered));
  }
  if (container) {
    return chosen(Isolation::kContainer, "a microVM cannot run here (" + whyNotVm + ")",
                  std::move(considered));
  }
  return Error("no isolation level can run this workload here: containers: " + whyNotContainer +
               "; microVMs: " + whyNotVm);
}

std::string describe(const IsolationChoice& choice) {
  std::string text = choice.reason;
  if (!choice.considered.empty()) {
    text += " (weighed: ";
    for (std::size_t i = 0; i < choice.considered.size(); ++i) {
      text += (i ? "; " : "") + choice.considered[i];
    }
    text += ")";
  }
  return text;
}

std::optional<std::uint64_t> hostMemoryAvailable() {
  auto text = readFile("/proc/meminfo");
  if (!text) return std::nullopt;
  return kibField(*text, "MemAvailable:");
}

}  // namespace tandem::scheduler

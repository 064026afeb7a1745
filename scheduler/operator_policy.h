// The operator's isolation policy: per class of workload, which levels are allowed, which one is
// required, and what `auto` means. A JSON file, /etc/tandem/policy.json unless told otherwise:
//   {"classes": {"untrusted": {"require": "vm"},
//                "batch":     {"allow": ["container"]},
//                "*":         {"default": "auto"}}}
// A workload's class is the one it names (--class), else its trust: "trusted", "untrusted" or
// "unknown". A class without a rule takes the "*" rule, and without that, no constraint.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/workload.h"

namespace tandem::scheduler {

struct ClassRule {
  std::vector<Isolation> allow = {Isolation::kContainer, Isolation::kVm};
  std::optional<Isolation> require;           // the only level allowed
  Isolation defaultLevel = Isolation::kAuto;  // what `auto` means for the class
};

struct OperatorPolicy {
  std::string source;  // the file it came from; empty for no policy
  std::map<std::string, ClassRule> classes;

  // The rule for `workloadClass`, and the class name whose rule it is ("*", or "" for none).
  std::pair<ClassRule, std::string> ruleFor(const std::string& workloadClass) const;
};

inline constexpr const char* kDefaultPolicyPath = "/etc/tandem/policy.json";

// Parses a policy; errors name the field and what was expected.
Result<OperatorPolicy> parseOperatorPolicy(const std::string& text, const std::string& source);

// The policy at `path`. With `required` false, a missing file is no policy rather than an error.
Result<OperatorPolicy> loadOperatorPolicy(const std::string& path, bool required);

}  // namespace tandem::scheduler

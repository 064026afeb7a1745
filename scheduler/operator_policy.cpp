#include "scheduler/operator_policy.h"

#include <nlohmann/json.hpp>

#include "common/file.h"

namespace tandem::scheduler {

namespace {

Result<Isolation> parseLevel(const nlohmann::json& value, const std::string& field) {
  if (!value.is_string()) {
    return Error(field + ": expected \"container\" or \"vm\"");
  }
  std::string text = value.get<std::string>();
  if (text == "container") return Isolation::kContainer;
  if (text == "vm") return Isolation::kVm;
  return Error(field + ": expected \"container\" or \"vm\", not \"" + text + "\"");
}

bool allows(const ClassRule& rule, Isolation level) {
  return std::find(rule.allow.begin(), rule.allow.end(), level) != rule.allow.end();
}

Result<ClassRule> parseRule(const nlohmann::json& json, const std::string& field) {
  if (!json.is_object()) {
    return Error(field + ": expected an object with allow, require or default");
  }
  ClassRule rule;
  for (const auto& [key, value] : json.items()) {
    std::string at = field + "." + key;
    if (key == "allow") {
      if (!value.is_array() || value.empty()) {
        return Error(at + ": expected a non-empty list of \"container\" and \"vm\"");
      }
      rule.allow.clear();
      for (std::size_t i = 0; i < value.size(); ++i) {
        TANDEM_ASSIGN_OR_RETURN(Isolation level,
                                parseLevel(value[i], at + "[" + std::to_string(i) + "]"));
        rule.allow.push_back(level);
      }
    } else if (key == "require") {
      TANDEM_ASSIGN_OR_RETURN(rule.require, parseLevel(value, at));
    } else if (key == "default") {
      if (value == "auto") {
        rule.defaultLevel = Isolation::kAuto;
      } else {
        TANDEM_ASSIGN_OR_RETURN(rule.defaultLevel, parseLevel(value, at));
      }
    } else {
      return Error(at + ": unknown field; a class rule has allow, require and default");
    }
  }
  if (rule.require && !allows(rule, *rule.require)) {
    return Error(field + ".require: \"" + toString(*rule.require) + "\" is not in its allow list");
  }
  if (rule.defaultLevel != Isolation::kAuto && !allows(rule, rule.defaultLevel)) {
    return Error(field + ".default: \"" + toString(rule.defaultLevel) +
                 "\" is not in its allow list");
  }
  if (rule.require && rule.defaultLevel != Isolation::kAuto && rule.defaultLevel != *rule.require) {
    return Error(field + ".default: contradicts require");
  }
  // Required is the only level allowed, asked for or not.
  if (rule.require) rule.allow = {*rule.require};
  return rule;
}

}  // namespace

std::pair<ClassRule, std::string> OperatorPolicy::ruleFor(const std::string& workloadClass) const {
  if (auto found = classes.find(workloadClass); found != classes.end()) {
    return {found->second, workloadClass};
  }
  if (auto any = classes.find("*"); any != classes.end()) {
    return {any->second, "*"};
  }
  return {ClassRule{}, ""};
}

Result<OperatorPolicy> parseOperatorPolicy(const std::string& text, const std::string& source) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return Error("the isolation policy " + source + " is not valid JSON");
  }
  if (!json.is_object()) {
    return Error("the isolation policy " + source + ": expected an object with \"classes\"");
  }
  OperatorPolicy policy;
  policy.source = source;
  for (const auto& [key, value] : json.items()) {
    if (key != "classes") {
      return Error("the isolation policy " + source + ": unknown field \"" + key +
                   "\"; a policy has \"classes\"");
    }
    if (!value.is_object()) {
      return Error("the isolation policy " + source +
                   ": classes: expected an object of class names to rules");
    }
    for (const auto& [name, rule] : value.items()) {
      auto parsed = parseRule(rule, "classes." + name);
      if (!parsed) return parsed.error().context("the isolation policy " + source);
      policy.classes.emplace(name, *parsed);
    }
  }
  return policy;
}

Result<OperatorPolicy> loadOperatorPolicy(const std::string& path, bool required) {
  auto text = readFile(path);
  if (!text) {
    if (!required && text.error().errnum() == ENOENT) return OperatorPolicy{};
    return text.error().context("cannot read the isolation policy");
  }
  return parseOperatorPolicy(*text, path);
}

}  // namespace tandem::scheduler

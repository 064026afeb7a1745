#include "scheduler/task_definition.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace tandem::scheduler {

namespace {

using nlohmann::json;

Error bad(const std::string& path, const std::string& expected, const json& got) {
  std::string shown = got.is_discarded() ? "nothing" : got.dump();
  if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
  return Error(path + ": expected " + expected + ", got " + shown);
}

// An object's fields, each name checked against `known`: a misspelt field is an error, not a
// silently ignored one.
Status onlyKnown(const json& object, const std::string& path,
                 std::initializer_list<const char*> known) {
  for (const auto& item : object.items()) {
    const std::string& key = item.key();
    if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
      std::string list;
      for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
      return Error(path + (path.empty() ? "" : ".") + key + ": unknown field; known: " + list);
    }
  }
  return okStatus();
}

std::string at(const std::string& path, const char* key) {
  return path.empty() ? key : path + "." + key;
}

Result<std::string> requiredString(const json& object, const std::string& path, const char* key) {
  std::string where = at(path, key);
  if (!object.contains(key)) return Error(where + ": required");
  const json& value = object[key];
  if (!value.is_string() || value.get<std::string>().empty()) {
    return bad(where, "a non-empty string", value);
  }
  return value.get<std::string>();
}

// A whole number in [low, high], written as a number or, as ECS allows, a string of digits.
Result<std::uint64_t> wholeNumber(const json& value, const std::string& where, std::uint64_t low,
                                  std::uint64_t high) {
  std::uint64_t number = 0;
  bool parsed = false;
  if (value.is_number_unsigned()) {
    number = value.get<std::uint64_t>();
    parsed = true;
  } else if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
    number = static_cast<std::uint64_t>(value.get<std::int64_t>());
    parsed = true;
  } else if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    parsed = !text.empty() && error == std::errc() && end == text.data() + text.size();
  }
  if (!parsed || number < low || number > high) {
    return bad(where, "a whole number from " + std::to_string(low) + " to " + std::to_string(high),
               value);
  }
  return number;
}

Result<std::optional<std::uint64_t>> optionalNumber(const json& object, const std::string& path,
                                                    const char* key, std::uint64_t low,
                                                    std::uint64_t high) {
  if (!object.contains(key) || object[key].is_null()) return std::optional<std::uint64_t>();
  TANDEM_ASSIGN_OR_RETURN(std::uint64_t number, wholeNumber(object[key], at(path, key), low, high));
  return std::optional<std::uint64_t>(number);
}

Result<std::vector<std::string>> stringList(const json& value, const std::string& where) {
  if (!value.is_array()) return bad(where, "a list of strings", value);
  std::vector<std::string> list;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (!value[i].is_string()) {
      return bad(where + "[" + std::to_string(i) + "]", "a string", value[i]);
    }
    list.push_back(value[i].get<std::string>());
  }
  return list;
}

bool validName(const std::string& name) {
  return !name.empty() && name.size() <= 255 &&
         std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; });
}

Result<HealthCheck> parseHealthCheck(const json& value, const std::string& path) {
  if (!value.is_object()) return bad(path, "an object", value);
  TANDEM_TRY(onlyKnown(value, path, {"command", "interval", "timeout", "retries", "startPeriod"}));
  HealthCheck check;
  if (!value.contains("command")) return Error(path + ".command: required");
  TANDEM_ASSIGN_OR_RETURN(check.command, stringList(value["command"], path + ".command"));
  if (check.command.size() < 2 || (check.command[0] != "CMD" && check.command[0] != "CMD-SHELL")) {
    return bad(path + ".command", "[\"CMD\", ARG...] or [\"CMD-SHELL\", \"SHELL COMMAND\"]",
               value["command"]);
  }
  TANDEM_ASSIGN_OR_RETURN(auto interval, optionalNumber(value, path, "interval", 5, 300));
  TANDEM_ASSIGN_OR_RETURN(auto timeout, optionalNumber(value, path, "timeout", 2, 60));
  TANDEM_ASSIGN_OR_RETURN(auto retries, optionalNumber(value, path, "retries", 1, 10));
  TANDEM_ASSIGN_OR_RETURN(auto startPeriod, optionalNumber(value, path, "startPeriod", 0, 300));
  if (interval) check.intervalSeconds = static_cast<unsigned>(*interval);
  if (timeout) check.timeoutSeconds = static_cast<unsigned>(*timeout);
  if (retries) check.retries = static_cast<unsigned>(*retries);
  if (startPeriod) check.startPeriodSeconds = static_cast<unsigned>(*startPeriod);
  return check;
}

Result<DependencyCondition> parseCondition(const json& value, const std::string& where) {
  static const std::map<std::string, DependencyCondition> kConditions = {
      {"START", DependencyCondition::kStart},
      {"COMPLETE", DependencyCondition::kComplete},
      {"SUCCESS", DependencyCondition::kSuccess},
      {"HEALTHY", DependencyCondition::kHealthy}};
  if (value.is_string()) {
    if (auto found = kConditions.find(value.get<std::string>()); found != kConditions.end()) {
      return found->second;
    }
  }
  return bad(where, "START, COMPLETE, SUCCESS or HEALTHY", value);
}

Result<ContainerDefinition> parseContainer(const json& value, const std::string& path) {
  if (!value.is_object()) return bad(path, "an object", value);
  TANDEM_TRY(onlyKnown(value, path,
                       {"name", "image", "command", "entryPoint", "environment", "cpu", "memory",
                        "memoryReservation", "portMappings", "essential", "healthCheck",
                        "dependsOn", "stopTimeout"}));
  ContainerDefinition container;
  TANDEM_ASSIGN_OR_RETURN(container.name, requiredString(value, path, "name"));
  if (!validName(container.name)) {
    return bad(path + ".name", "up to 255 letters, digits, hyphens and underscores", value["name"]);
  }
  TANDEM_ASSIGN_OR_RETURN(container.image, requiredString(value, path, "image"));
  if (value.contains("command")) {
    TANDEM_ASSIGN_OR_RETURN(container.command, stringList(value["command"], path + ".command"));
  }
  if (value.contains("entryPoint")) {
    TANDEM_ASSIGN_OR_RETURN(container.entryPoint,
                            stringList(value["entryPoint"], path + ".entryPoint"));
  }
  if (value.contains("environment")) {
    const json& environment = value["environment"];
    if (!environment.is_array()) return bad(path + ".environment", "a list", environment);
    std::set<std::string> seen;
    for (std::size_t i = 0; i < environment.size(); ++i) {
      std::string where = path + ".environment[" + std::to_string(i) + "]";
      const json& entry = environment[i];
      if (!entry.is_object()) return bad(where, "{\"name\": ..., \"value\": ...}", entry);
      TANDEM_TRY(onlyKnown(entry, where, {"name", "value"}));
      TANDEM_ASSIGN_OR_RETURN(std::string name, requiredString(entry, where, "name"));
      if (name.find('=') != std::string::npos) {
        return bad(where + ".name", "a name without '='", entry["name"]);
      }
      if (!seen.insert(name).second) {
        return Error(where + ".name: \"" + name + "\" is set twice");
      }
      if (!entry.contains("value") || !entry["value"].is_string()) {
        return bad(where + ".value", "a string", entry.value("value", json()));
      }
      container.environment.push_back(name + "=" + entry["value"].get<std::string>());
    }
  }
  TANDEM_ASSIGN_OR_RETURN(auto cpu, optionalNumber(value, path, "cpu", 0, 10 * 1024));
  if (cpu) container.cpuUnits = static_cast<unsigned>(*cpu);
  TANDEM_ASSIGN_OR_RETURN(container.memoryMiB,
                          optionalNumber(value, path, "memory", 6, 1024 * 1024));
  TANDEM_ASSIGN_OR_RETURN(container.memoryReservationMiB,
                          optionalNumber(value, path, "memoryReservation", 4, 1024 * 1024));
  TANDEM_ASSIGN_OR_RETURN(auto stopTimeout, optionalNumber(value, path, "stopTimeout", 2, 120));
  if (stopTimeout) container.stopTimeoutSeconds = static_cast<unsigned>(*stopTimeout);
  if (container.memoryMiB && container.memoryReservationMiB &&
      *container.memoryReservationMiB > *container.memoryMiB) {
    return Error(path + ".memoryReservation: " + std::to_string(*container.memoryReservationMiB) +
                 " MiB is above its memory limit of " + std::to_string(*container.memoryMiB) +
                 " MiB");
  }
  if (value.contains("portMappings")) {
    const json& ports = value["portMappings"];
    if (!ports.is_array()) return bad(path + ".portMappings", "a list", ports);
    for (std::size_t i = 0; i < ports.size(); ++i) {
      std::string where = path + ".portMappings[" + std::to_string(i) + "]";
      if (!ports[i].is_object()) return bad(where, "an object", ports[i]);
      TANDEM_TRY(onlyKnown(ports[i], where, {"containerPort", "hostPort", "protocol"}));
      TaskPortMapping port;
      if (!ports[i].contains("containerPort")) return Error(where + ".containerPort: required");
      TANDEM_ASSIGN_OR_RETURN(
          std::uint64_t containerPort,
          wholeNumber(ports[i]["containerPort"], where + ".containerPort", 1, 65535));
      port.containerPort = static_cast<std::uint16_t>(containerPort);
      TANDEM_ASSIGN_OR_RETURN(auto hostPort, optionalNumber(ports[i], where, "hostPort", 1, 65535));
      if (hostPort) port.hostPort = static_cast<std::uint16_t>(*hostPort);
      if (ports[i].contains("protocol")) {
        const json& protocol = ports[i]["protocol"];
        if (protocol != "tcp") {
          return bad(where + ".protocol", "\"tcp\" (tandem publishes TCP ports only)", protocol);
        }
      }
      container.portMappings.push_back(port);
    }
  }
  if (value.contains("essential")) {
    if (!value["essential"].is_boolean())
      return bad(path + ".essential", "true or false", value["essential"]);
    container.essential = value["essential"].get<bool>();
  }
  if (value.contains("healthCheck")) {
    TANDEM_ASSIGN_OR_RETURN(container.healthCheck,
                            parseHealthCheck(value["healthCheck"], path + ".healthCheck"));
  }
  if (value.contains("dependsOn")) {
    const json& dependsOn = value["dependsOn"];
    if (!dependsOn.is_array()) return bad(path + ".dependsOn", "a list", dependsOn);
    for (std::size_t i = 0; i < dependsOn.size(); ++i) {
      std::string where = path + ".dependsOn[" + std::to_string(i) + "]";
      if (!dependsOn[i].is_object()) return bad(where, "an object", dependsOn[i]);
      TANDEM_TRY(onlyKnown(dependsOn[i], where, {"containerName", "condition"}));
      ContainerDependency dependency;
      TANDEM_ASSIGN_OR_RETURN(dependency.containerName,
                              requiredString(dependsOn[i], where, "containerName"));
      if (!dependsOn[i].contains("condition")) return Error(where + ".condition: required");
      TANDEM_ASSIGN_OR_RETURN(dependency.condition,
                              parseCondition(dependsOn[i]["condition"], where + ".condition"));
      container.dependsOn.push_back(std::move(dependency));
    }
  }
  return container;
}

// The task's CPU as ECS writes it: units ("1024", 1024) or vCPUs ("1 vCPU", "0.5 vcpu").
Result<unsigned> parseTaskCpu(const json& value) {
  if (value.is_string()) {
    std::string text = value.get<std::string>();
    std::string lower = text;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (auto vcpu = lower.find("vcpu"); vcpu != std::string::npos) {
      try {
        double count = std::stod(lower.substr(0, vcpu));
        if (count > 0 && count <= 192) return static_cast<unsigned>(count * 1024);
      } catch (const std::exception&) {
      }
      return bad("cpu", "CPU units (1024 to a vCPU) or \"N vCPU\"", value);
    }
  }
  TANDEM_ASSIGN_OR_RETURN(std::uint64_t units, wholeNumber(value, "cpu", 128, 192 * 1024));
  return static_cast<unsigned>(units);
}

// The task's memory as ECS writes it: MiB ("512", 512) or GB ("2 GB").
Result<std::uint64_t> parseTaskMemory(const json& value) {
  if (value.is_string()) {
    std::string lower = value.get<std::string>();
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (auto gb = lower.find("gb"); gb != std::string::npos) {
      try {
        double count = std::stod(lower.substr(0, gb));
        if (count > 0 && count <= 1024) return static_cast<std::uint64_t>(count * 1024);
      } catch (const std::exception&) {
      }
      return bad("memory", "MiB or \"N GB\"", value);
    }
  }
  return wholeNumber(value, "memory", 6, 1024 * 1024);
}

Status checkDependencies(const TaskDefinition& task) {
  std::map<std::string, std::size_t> byName;
  for (std::size_t i = 0; i < task.containers.size(); ++i) {
    if (!byName.emplace(task.containers[i].name, i).second) {
      return Error("containerDefinitions[" + std::to_string(i) + "].name: \"" +
                   task.containers[i].name + "\" names another container too");
    }
  }
  for (std::size_t i = 0; i < task.containers.size(); ++i) {
    const ContainerDefinition& container = task.containers[i];
    for (std::size_t d = 0; d < container.dependsOn.size(); ++d) {
      const ContainerDependency& dependency = container.dependsOn[d];
      std::string where =
          "containerDefinitions[" + std::to_string(i) + "].dependsOn[" + std::to_string(d) + "]";
      auto target = byName.find(dependency.containerName);
      if (target == byName.end()) {
        return Error(where + ".containerName: no container is named \"" + dependency.containerName +
                     "\"");
      }
      if (target->second == i) {
        return Error(where + ".containerName: a container cannot depend on itself");
      }
      if (dependency.condition == DependencyCondition::kHealthy &&
          !task.containers[target->second].healthCheck) {
        return Error(where + ".condition: HEALTHY needs a healthCheck on \"" +
                     dependency.containerName + "\"");
      }
      if ((dependency.condition == DependencyCondition::kComplete ||
           dependency.condition == DependencyCondition::kSuccess) &&
          task.containers[target->second].essential) {
        return Error(where + ".condition: " + toString(dependency.condition) + " waits for \"" +
                     dependency.containerName +
                     "\" to exit, but it is essential, and the task stops when it exits");
      }
    }
  }
  // A cycle leaves containers that never become ready to start.
  if (std::vector<std::size_t> order = startOrder(task); order.size() != task.containers.size()) {
    std::string stuck;
    for (std::size_t i = 0; i < task.containers.size(); ++i) {
      if (std::find(order.begin(), order.end(), i) == order.end()) {
        stuck += (stuck.empty() ? "" : ", ") + task.containers[i].name;
      }
    }
    return Error("containerDefinitions: dependsOn makes a cycle among " + stuck);
  }
  return okStatus();
}

}  // namespace

const char* toString(DependencyCondition condition) {
  switch (condition) {
    case DependencyCondition::kStart:
      return "START";
    case DependencyCondition::kComplete:
      return "COMPLETE";
    case DependencyCondition::kSuccess:
      return "SUCCESS";
    case DependencyCondition::kHealthy:
      return "HEALTHY";
  }
  return "?";
}

std::vector<std::size_t> startOrder(const TaskDefinition& task) {
  std::vector<std::size_t> order;
  std::vector<bool> placed(task.containers.size(), false);
  // Kahn's algorithm, stable: among those ready, the order of the definition.
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t i = 0; i < task.containers.size(); ++i) {
      if (placed[i]) continue;
      bool ready =
          std::all_of(task.containers[i].dependsOn.begin(), task.containers[i].dependsOn.end(),
                      [&](const ContainerDependency& d) {
                        for (std::size_t j = 0; j < task.containers.size(); ++j) {
                          if (task.containers[j].name == d.containerName)
                            return static_cast<bool>(placed[j]);
                        }
                        return true;  // unknown names are checked elsewhere
                      });
      if (ready) {
        placed[i] = true;
        order.push_back(i);
        progress = true;
      }
    }
  }
  return order;
}

std::uint64_t reservedMemoryMiB(const ContainerDefinition& container) {
  return container.memoryMiB.value_or(container.memoryReservationMiB.value_or(0));
}

std::uint64_t cpuMilliFromUnits(unsigned units) {
  return std::uint64_t{units} * 1000 / 1024;
}

Result<TaskDefinition> parseTaskDefinition(const std::string& text, const std::string& source) {
  auto context = [&](Error error) { return std::move(error).context("task definition " + source); };
  json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return context(Error("not valid JSON"));
  if (!document.is_object()) return context(bad("the document", "an object", document));
  if (auto known =
          onlyKnown(document, "",
                    {"family", "cpu", "memory", "networkMode", "isolation", "containerDefinitions",
                     "requiresCompatibilities", "executionRoleArn", "taskRoleArn"});
      !known) {
    return context(known.error());
  }
  TaskDefinition task;
  auto family = requiredString(document, "", "family");
  if (!family) return context(family.error());
  task.family = *family;
  if (!validName(task.family)) {
    return context(
        bad("family", "up to 255 letters, digits, hyphens and underscores", document["family"]));
  }
  if (document.contains("cpu")) {
    auto cpu = parseTaskCpu(document["cpu"]);
    if (!cpu) return context(cpu.error());
    task.cpuUnits = *cpu;
  }
  if (document.contains("memory")) {
    auto memory = parseTaskMemory(document["memory"]);
    if (!memory) return context(memory.error());
    task.memoryMiB = *memory;
  }
  if (document.contains("networkMode")) {
    const json& mode = document["networkMode"];
    // awsvpc gives each task its own interface: here, an address on tandem's bridge.
    if (mode == "awsvpc" || mode == "bridge") {
      task.network = NetworkMode::kBridge;
    } else if (mode == "host") {
      task.network = NetworkMode::kHost;
    } else if (mode == "none") {
      task.network = NetworkMode::kNone;
    } else {
      return context(bad("networkMode", "awsvpc, bridge, host or none", mode));
    }
  }
  if (document.contains("isolation")) {
    const json& isolation = document["isolation"];
    auto level = isolation.is_string() ? parseIsolation(isolation.get<std::string>())
                                       : Result<Isolation>(Error(""));
    if (!level) return context(bad("isolation", "vm, container or auto", isolation));
    task.isolation = *level;
  }
  if (!document.contains("containerDefinitions")) {
    return context(Error("containerDefinitions: required"));
  }
  const json& containers = document["containerDefinitions"];
  if (!containers.is_array() || containers.empty() || containers.size() > 10) {
    return context(bad("containerDefinitions", "a list of 1 to 10 containers", containers));
  }
  for (std::size_t i = 0; i < containers.size(); ++i) {
    auto container =
        parseContainer(containers[i], "containerDefinitions[" + std::to_string(i) + "]");
    if (!container) return context(container.error());
    task.containers.push_back(std::move(*container));
  }
  if (std::none_of(task.containers.begin(), task.containers.end(),
                   [](const ContainerDefinition& c) { return c.essential; })) {
    return context(Error("containerDefinitions: at least one container must be essential"));
  }
  if (auto checked = checkDependencies(task); !checked) return context(checked.error());
  std::uint64_t memory = 0, cpu = 0;
  for (const ContainerDefinition& c : task.containers) {
    memory += reservedMemoryMiB(c);
    cpu += c.cpuUnits.value_or(0);
  }
  if (task.memoryMiB && memory > *task.memoryMiB) {
    return context(Error("containerDefinitions: the containers' memory adds up to " +
                         std::to_string(memory) + " MiB, above the task's " +
                         std::to_string(*task.memoryMiB) + " MiB"));
  }
  if (task.cpuUnits && cpu > *task.cpuUnits) {
    return context(Error("containerDefinitions: the containers' cpu adds up to " +
                         std::to_string(cpu) + " units, above the task's " +
                         std::to_string(*task.cpuUnits)));
  }
  return task;
}

}  // namespace tandem::scheduler

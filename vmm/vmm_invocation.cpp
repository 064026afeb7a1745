#include "vmm/vmm_invocation.h"

#include <charconv>
#include <functional>
#include <map>

#include <nlohmann/json.hpp>

namespace tandem::vmm {
namespace {

template <class Number>
Result<Number> parseNumber(const std::string& option, const std::string& text, Number least) {
  Number value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < least) {
    return Error(option + " takes a whole number of at least " + std::to_string(least) +
                     ", not \"" + text + "\"",
                 EINVAL);
  }
  return value;
}

nlohmann::json outcomeToJson(const WorkloadOutcome& outcome) {
  return {{"id", outcome.id},
          {"signaled", outcome.status.signaled},
          {"code", outcome.status.code},
          {"signal", outcome.status.signal},
          {"oomKilled", outcome.oomKilled},
          {"launchError", outcome.launchError}};
}

}  // namespace

std::vector<std::string> vmmArguments(const VmmInvocation& invocation) {
  const VmBackendConfig& config = invocation.config;
  std::vector<std::string> args = {"--kernel",        config.kernelPath,
                                   "--guest-init",    config.guestInitPath,
                                   "--kvm",           config.kvmPath,
                                   "--vmlinux-cache", config.vmlinuxCacheDirectory,
                                   "--workload-fd",   std::to_string(invocation.workloadFd)};
  if (!config.initramfsPath.empty()) {
    args.insert(args.end(), {"--initramfs", config.initramfsPath});
  }
  if (config.timeout) {
    args.insert(args.end(), {"--timeout-ms", std::to_string(config.timeout->count())});
  }
  if (config.rootDisk) {
    args.insert(args.end(), {"--root-disk", config.rootDisk->text()});
  }
  for (const DiskSpec& disk : config.disks) {
    args.insert(args.end(), {"--disk", disk.text()});
  }
  for (const NicSpec& nic : config.nics) {
    args.insert(args.end(), {"--tap", nic.text()});
  }
  if (!config.vsockSocket.empty()) {
    args.insert(args.end(), {"--vsock", config.vsockSocket});
  }
  if (config.seccomp != SeccompMode::kEnforce) {
    args.insert(args.end(), {"--seccomp", seccompModeName(config.seccomp)});
  }
  if (config.jail) {
    args.insert(args.end(), {"--jail", jailUserText(*config.jail)});
  }
  for (auto [flag, set] :
       {std::pair{"--hugepages", config.hugepages}, std::pair{"--console", config.showConsole},
        std::pair{"--stats", config.stats}}) {
    if (set) {
      args.emplace_back(flag);
    }
  }
  if (invocation.resultFd >= 0) {
    args.insert(args.end(), {"--result-fd", std::to_string(invocation.resultFd)});
  }
  if (invocation.parentPidfd >= 0) {
    args.insert(args.end(), {"--parent-pidfd", std::to_string(invocation.parentPidfd)});
  }
  if (invocation.startedAtNs) {
    args.insert(args.end(), {"--started-at-ns", std::to_string(*invocation.startedAtNs)});
  }
  if (!invocation.logLevel.empty()) {
    args.insert(args.end(), {"--log-level", invocation.logLevel});
  }
  return args;
}

Result<VmmInvocation> parseVmmArguments(const std::vector<std::string>& args) {
  VmmInvocation invocation;
  VmBackendConfig& config = invocation.config;
  using Setter = std::function<Status(const std::string&)>;
  auto text = [](std::string& target) {
    return Setter([&target](const std::string& value) {
      target = value;
      return okStatus();
    });
  };
  auto descriptor = [](const char* option, int& target) {
    return Setter([option, &target](const std::string& value) -> Status {
      TANDEM_ASSIGN_OR_RETURN(target, parseNumber<int>(option, value, 0));
      return okStatus();
    });
  };
  const std::map<std::string, Setter> valued = {
      {"--kernel", text(config.kernelPath)},
      {"--guest-init", text(config.guestInitPath)},
      {"--initramfs", text(config.initramfsPath)},
      {"--kvm", text(config.kvmPath)},
      {"--vmlinux-cache", text(config.vmlinuxCacheDirectory)},
      {"--log-level", text(invocation.logLevel)},
      {"--vsock", text(config.vsockSocket)},
      {"--workload-fd", descriptor("--workload-fd", invocation.workloadFd)},
      {"--result-fd", descriptor("--result-fd", invocation.resultFd)},
      {"--timeout-ms",
       [&](const std::string& value) -> Status {
         TANDEM_ASSIGN_OR_RETURN(std::int64_t ms,
                                 parseNumber<std::int64_t>("--timeout-ms", value, 1));
         config.timeout = std::chrono::milliseconds(ms);
         return okStatus();
       }},
      {"--parent-pidfd", descriptor("--parent-pidfd", invocation.parentPidfd)},
      {"--jail",
       [&](const std::string& value) -> Status {
         TANDEM_ASSIGN_OR_RETURN(config.jail, parseJailUser(value));
         return okStatus();
       }},
      {"--disk",
       [&](const std::string& value) -> Status {
         TANDEM_ASSIGN_OR_RETURN(DiskSpec disk, parseDiskSpec(value));
         config.disks.push_back(std::move(disk));
         return okStatus();
       }},
      {"--tap",
       [&](const std::string& value) -> Status {
         TANDEM_ASSIGN_OR_RETURN(NicSpec nic, parseNicSpec(value));
         config.nics.push_back(std::move(nic));
         return okStatus();
       }},
      {"--root-disk",
       [&](const std::string& value) -> Status {
         TANDEM_ASSIGN_OR_RETURN(config.rootDisk, parseDiskSpec(value));
         return okStatus();
       }},
      {"--seccomp",
       [&](const std::string& value) -> Status {
         TANDEM_ASSIGN_OR_RETURN(config.seccomp, parseSeccompMode(value));
         return okStatus();
       }},
      {"--started-at-ns",
       [&](const std::string& value) -> Status {
         TANDEM_ASSIGN_OR_RETURN(invocation.startedAtNs,
                                 parseNumber<std::int64_t>("--started-at-ns", value, 0));
         return okStatus();
       }},
  };
  const std::map<std::string, bool*> flags = {{"--hugepages", &config.hugepages},
                                              {"--console", &config.showConsole},
                                              {"--stats", &config.stats}};
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (auto flag = flags.find(args[i]); flag != flags.end()) {
      *flag->second = true;
      continue;
    }
    auto option = valued.find(args[i]);
    if (option == valued.end()) {
      return Error("unknown option \"" + args[i] + "\"", EINVAL);
    }
    if (i + 1 == args.size()) {
      return Error(args[i] + " needs a value", EINVAL);
    }
    TANDEM_TRY(option->second(args[++i]));
  }
  if (config.kernelPath.empty() || config.guestInitPath.empty() || invocation.workloadFd < 0) {
    return Error("--kernel, --guest-init and --workload-fd are required", EINVAL);
  }
  return invocation;
}

nlohmann::json vmRunToJson(const VmRun& run) {
  nlohmann::json json = {{"stats", run.stats}};
  if (run.outcome) {
    json["outcome"] = outcomeToJson(*run.outcome);
  } else {
    json["error"] = {{"message", run.outcome.error().message()},
                     {"errno", run.outcome.error().errnum()}};
  }
  return json;
}

Result<VmRun> vmRunFromJson(const nlohmann::json& json) {
  auto invalid = [] {
    return Error(
        "tandem-vmm's result is not the JSON this tandem expects; are tandem and "
        "tandem-vmm from the same build?",
        EPROTO);
  };
  if (!json.is_object()) {
    return invalid();
  }
  nlohmann::json stats = json.value("stats", nlohmann::json(nullptr));
  if (auto error = json.find("error"); error != json.end()) {
    if (!error->is_object() || !error->contains("message") || !(*error)["message"].is_string()) {
      return invalid();
    }
    return VmRun{Error((*error)["message"].get<std::string>(), error->value("errno", 0)),
                 std::move(stats)};
  }
  auto found = json.find("outcome");
  if (found == json.end() || !found->is_object()) {
    return invalid();
  }
  try {
    WorkloadOutcome outcome;
    outcome.id = found->at("id").get<std::string>();
    outcome.status.signaled = found->at("signaled").get<bool>();
    outcome.status.code = found->at("code").get<int>();
    outcome.status.signal = found->at("signal").get<int>();
    outcome.oomKilled = found->at("oomKilled").get<bool>();
    outcome.launchError = found->at("launchError").get<std::string>();
    return VmRun{std::move(outcome), std::move(stats)};
  } catch (const nlohmann::json::exception&) {
    return invalid();
  }
}

}  // namespace tandem::vmm

// tandem exec: another process in a running workload, with the process's exit code as tandem's.
// In a container, it joins the container's namespaces and cgroup (container/container_exec.h);
// in a microVM, the guest agent starts it over vsock, with stdout and stderr kept apart.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <charconv>
#include <iostream>

#include "common/log.h"
#include "common/process.h"
#include "container/container_exec.h"
#include "scheduler/workload_control.h"
#include "tools/tandem/commands.h"
#include "tools/tandem/verb_options.h"
#include "tools/tandem/workload_state.h"
#include "vmm/agent_client.h"

namespace po = boost::program_options;

namespace tandem::cli {
namespace {

po::options_description execOptions() {
  po::options_description options(
      "usage: tandem exec [OPTIONS] WORKLOAD COMMAND [ARG...]\n"
      "Runs COMMAND in the running container or microVM named WORKLOAD (its --name, id or id "
      "prefix), beside its workload, with the workload's environment, working directory and user "
      "unless given here. Exits with COMMAND's exit code (128+N for signal N).\n"
      "options");
  options.add_options()("help,h", "show this help")(
      "interactive,i", po::bool_switch(), "pass stdin to COMMAND (else it reads end-of-input)")(
      "env,e", po::value<std::vector<std::string>>(), "KEY=VALUE, added to the workload's")(
      "workdir,w", po::value<std::string>(), "working directory")(
      "user,u", po::value<std::string>(),
      "UID[:GID], or NAME[:GROUP] from a container's /etc/passwd");
  return options;
}

Status parseNumericUser(const std::string& text, User& user) {
  auto colon = text.find(':');
  auto number = [&](std::string_view part, std::uint32_t& out) {
    auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), out);
    return error == std::errc() && end == part.data() + part.size() && !part.empty();
  };
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string_view whole(text);
  if (!number(whole.substr(0, colon), uid) ||
      (colon != std::string::npos && !number(whole.substr(colon + 1), gid))) {
    return Error("--user takes UID[:GID] as numbers inside a microVM, not \"" + text + "\"",
                 EINVAL);
  }
  user.spec = text;
  user.uid = uid;
  user.gid = colon == std::string::npos ? uid : gid;
  user.additionalGids.clear();
  return okStatus();
}

// The workload's environment with `added` on top, a key given again replacing the old value.
std::vector<std::string> mergedEnvironment(std::vector<std::string> env,
                                           const std::vector<std::string>& added) {
  for (const std::string& entry : added) {
    std::string key = entry.substr(0, entry.find('='));
    std::erase_if(env, [&](const std::string& old) { return old.substr(0, old.find('=')) == key; });
    env.push_back(entry);
  }
  return env;
}

int execInMicroVm(const GlobalOptions& global, const std::string& reference,
                  std::vector<std::string> command, const po::variables_map& vm) {
  auto target = vmm::findRunningVm(global.stateRoot, reference);
  if (!target) {
    return fail(target.error());
  }
  Workload process = target->workload;
  process.command = std::move(command);
  if (vm.count("env")) {
    process.env = mergedEnvironment(process.env, vm["env"].as<std::vector<std::string>>());
  }
  if (vm.count("workdir")) process.workdir = vm["workdir"].as<std::string>();
  if (vm.count("user")) {
    if (auto user = parseNumericUser(vm["user"].as<std::string>(), process.user); !user) {
      return fail(user.error());
    }
  }
  auto agent = vmm::connectToAgent(target->socketPath);
  if (!agent) {
    return fail(agent.error().context("microVM " + target->workload.id));
  }
  vmm::ExecStreams streams;
  streams.stdinFd = vm["interactive"].as<bool>() ? STDIN_FILENO : -1;
  auto exit = vmm::execInGuest(agent->get(), target->execRequest, process, streams);
  if (!exit) {
    return fail(exit.error().context("exec in microVM " + target->workload.id));
  }
  spdlog::debug("guest memory: {} bytes of {} available", exit->guestMemoryAvailableBytes,
                exit->guestMemoryTotalBytes);
  return exit->signal ? 128 + *exit->signal : *exit->exitCode;
}

int execInContainer(const GlobalOptions& global, const scheduler::WorkloadRecord& record,
                    std::vector<std::string> command, const po::variables_map& vm) {
  if (record.state != scheduler::WorkloadState::kRunning || record.workloadPid == 0) {
    return fail(scheduler::notRunning(record).error());
  }
  container::RuntimeConfig config{global.stateRoot};
  auto recorded = container::recordedContainer(config, record.id);
  if (!recorded) return fail(recorded.error());
  Workload process = std::move(recorded).value();
  process.command = std::move(command);
  if (vm.count("env")) {
    process.env = mergedEnvironment(process.env, vm["env"].as<std::vector<std::string>>());
  }
  if (vm.count("workdir")) process.workdir = vm["workdir"].as<std::string>();
  if (vm.count("user")) {
    process.user = User{};
    process.user.spec = vm["user"].as<std::string>();
  }
  container::ExecTarget target{record.id, record.workloadPid, record.workloadStart};
  auto outcome =
      container::execInContainer(config, target, std::move(process), vm["interactive"].as<bool>());
  if (!outcome)
    return fail(outcome.error().context("exec in container " + record.id.substr(0, 12)));
  if (!outcome->launchError.empty()) {
    std::cerr << "tandem: " << outcome->launchError << "\n";
  }
  return outcome->exitCode();
}

}  // namespace

int execCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  po::options_description options = execOptions();
  auto operands = args.begin() + static_cast<std::ptrdiff_t>(firstOperand(args, options));
  std::vector<std::string> ours(args.begin(), operands);
  if (operands != args.end() && *operands == "--") ++operands;
  po::variables_map vm;
  if (auto code = parseVerbOptions(ours, options, po::positional_options_description(), vm)) {
    return *code;
  }
  if (std::distance(operands, args.end()) < 2) {
    return fail(Error("tandem exec needs a workload and a command; see tandem exec --help"));
  }
  std::vector<std::string> command(operands + 1, args.end());
  auto store = openWorkloadStore(global);
  if (!store) return fail(store.error());
  auto record = store->find(*operands);
  if (record && record->isolation == Isolation::kContainer) {
    return execInContainer(global, *record, std::move(command), vm);
  }
  return execInMicroVm(global, *operands, std::move(command), vm);
}

}  // namespace tandem::cli

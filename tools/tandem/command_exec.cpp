// tandem exec: another process in a running microVM, through its guest agent over vsock, with
// stdout and stderr kept apart and the process's exit code as tandem's.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <charconv>
#include <iostream>

#include "common/log.h"
#include "common/process.h"
#include "tools/tandem/commands.h"
#include "tools/tandem/verb_options.h"
#include "vmm/agent_client.h"

namespace po = boost::program_options;

namespace tandem::cli {
namespace {

po::options_description execOptions() {
  po::options_description options(
      "usage: tandem exec [OPTIONS] MICROVM COMMAND [ARG...]\n"
      "Runs COMMAND in the running microVM named MICROVM (its --name, id or id prefix), beside "
      "its workload, with the workload's environment, working directory and user unless given "
      "here. Exits with COMMAND's exit code (128+N for signal N).\n"
      "options");
  options.add_options()("help,h", "show this help")(
      "interactive,i", po::bool_switch(), "pass stdin to COMMAND (else it reads end-of-input)")(
      "env,e", po::value<std::vector<std::string>>(), "KEY=VALUE, added to the workload's")(
      "workdir,w", po::value<std::string>(), "working directory")(
      "user,u", po::value<std::string>(), "UID[:GID], numbers");
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
    return fail(Error("tandem exec needs a microVM and a command; see tandem exec --help"));
  }
  auto target = vmm::findRunningVm(global.stateRoot, *operands);
  if (!target) {
    return fail(target.error());
  }
  Workload process = target->workload;
  process.command.assign(operands + 1, args.end());
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
  auto exit = vmm::execInGuest(agent->get(), process, streams);
  if (!exit) {
    return fail(exit.error().context("exec in microVM " + target->workload.id));
  }
  spdlog::debug("guest memory: {} bytes of {} available", exit->guestMemoryAvailableBytes,
                exit->guestMemoryTotalBytes);
  return exit->signal ? 128 + *exit->signal : *exit->exitCode;
}

}  // namespace tandem::cli

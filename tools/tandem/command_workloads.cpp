// The state store's verbs, at both isolation levels alike:
// - tandem ps: the workloads, as docker ps shows containers: running ones by default, every
//   record with -a, or JSON lines for scripts;
// - tandem inspect: one workload's record, with the isolation level chosen and why;
// - tandem rm: ended or lost workloads' records, with their logs and what they kept under the
//   state root; with -f, running ones too, killed first.
#include <signal.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/file.h"
#include "scheduler/workload_control.h"
#include "scheduler/workload_monitor.h"
#include "scheduler/workload_store.h"
#include "tools/tandem/commands.h"
#include "tools/tandem/verb_options.h"
#include "tools/tandem/workload_state.h"
#include "vmm/vm_backend.h"

namespace po = boost::program_options;

namespace tandem::cli {
namespace {

po::options_description psOptions() {
  po::options_description options(
      "usage: tandem ps [-a] [--json]\n"
      "Lists running workloads, containers and microVMs alike; a workload whose monitor died "
      "shows as lost.\n"
      "options");
  options.add_options()("help,h", "show this help")("all,a", po::bool_switch(),
                                                    "also list workloads that ended or were lost")(
      "json", po::bool_switch(), "one JSON object per workload and line")(
      "quiet,q", po::bool_switch(), "only the workloads' short ids, one a line");
  return options;
}

std::string ago(std::int64_t thenNs) {
  auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  std::int64_t seconds = std::max<std::int64_t>(0, (now - thenNs) / 1'000'000'000);
  if (seconds < 120) return std::to_string(seconds) + " seconds ago";
  if (seconds < 7200) return std::to_string(seconds / 60) + " minutes ago";
  if (seconds < 172800) return std::to_string(seconds / 3600) + " hours ago";
  return std::to_string(seconds / 86400) + " days ago";
}

std::string status(const scheduler::WorkloadRecord& record) {
  switch (record.state) {
    case scheduler::WorkloadState::kRunning:
      if (record.workloadPid == 0) {
        return record.restartCount ? "restarting (" + std::to_string(record.restartCount) + ")"
                                   : "starting";
      }
      return record.restartCount
                 ? "running (restarted " + std::to_string(record.restartCount) + "x)"
                 : "running";
    case scheduler::WorkloadState::kExited:
      return "exited (" + std::to_string(record.exitCode.value_or(-1)) + ") " +
             ago(record.finishedNs);
    case scheduler::WorkloadState::kLost:
      return "lost (its monitor, process " + std::to_string(record.ownerPid) + ", died)";
  }
  return "unknown";
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) {
    if (!text.empty()) text += ' ';
    text += word;
  }
  return text.size() > 40 ? text.substr(0, 37) + "..." : text;
}

// Parses `args` against `options`, with the verb's operands positional. Returns an exit code
// when the command is done (help shown, or a usage error), nothing when it should go on.
std::optional<int> parse(const std::vector<std::string>& args,
                         const po::options_description& options, const char* verb,
                         po::variables_map& vm) {
  po::positional_options_description positional;
  positional.add("workload", -1);
  try {
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return fail(Error(std::string(e.what()) + "; see tandem " + verb + " --help"));
  }
  if (vm.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  return std::nullopt;
}

// The command line of a verb on named workloads (inspect, rm): --help, then at least one
// WORKLOAD operand, put in `references`. Returns an exit code when the command is done.
std::optional<int> parseWorkloads(const std::vector<std::string>& args, const char* verb,
                                  const char* what, std::vector<std::string>& references) {
  std::string usage = std::string("usage: tandem ") + verb + " WORKLOAD...";
  po::options_description options(usage + "\n" + what + "\noptions");
  options.add_options()("help,h", "show this help")(
      "workload", po::value<std::vector<std::string>>(), "a workload's name, id or id prefix");
  po::variables_map vm;
  if (auto done = parse(args, options, verb, vm)) return done;
  if (vm.count("workload")) references = vm["workload"].as<std::vector<std::string>>();
  if (references.empty()) return fail(Error(usage));
  return std::nullopt;
}

}  // namespace

int inspectCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  std::vector<std::string> references;
  if (auto done = parseWorkloads(args, "inspect",
                                 "Shows each workload's record (WORKLOAD: its name, id or id "
                                 "prefix) as JSON, with the isolation level chosen and why.",
                                 references)) {
    return *done;
  }
  auto store = openWorkloadStore(global);
  if (!store) return fail(store.error());
  nlohmann::json shown = nlohmann::json::array();
  for (const std::string& reference : references) {
    auto record = store->find(reference);
    if (!record) return fail(record.error());
    shown.push_back(scheduler::toJson(*record));
  }
  std::cout << shown.dump(2) << "\n";
  return 0;
}

int rmCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  std::string usage = "usage: tandem rm [-f] WORKLOAD...";
  po::options_description options(
      usage +
      "\nRemoves ended or lost workloads (WORKLOAD: name, id or id prefix): their records, logs "
      "and what they kept under the state root (a container's or a microVM's writable layer).\n"
      "options");
  options.add_options()("help,h", "show this help")(
      "force,f", po::bool_switch(), "kill a running workload (SIGKILL) and remove it")(
      "workload", po::value<std::vector<std::string>>(), "a workload's name, id or id prefix");
  po::variables_map vm;
  if (auto done = parse(args, options, "rm", vm)) return *done;
  if (!vm.count("workload")) return fail(Error(usage));
  auto store = openWorkloadStore(global);
  if (!store) return fail(store.error());
  int status = 0;
  for (const std::string& reference : vm["workload"].as<std::vector<std::string>>()) {
    auto removed = removeWorkload(global, *store, reference, vm["force"].as<bool>());
    if (!removed) {
      status = fail(removed.error());
      continue;
    }
    std::cout << reference << "\n";
  }
  return status;
}

int psCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  po::options_description options = psOptions();
  for (const std::string& arg : args) {
    if (!arg.starts_with("-")) {
      return fail(Error("tandem ps lists every workload and takes no names (\"" + arg +
                        "\"); tandem inspect shows one"));
    }
  }
  po::variables_map vm;
  if (auto done = parse(args, options, "ps", vm)) return *done;
  auto store = openWorkloadStore(global);
  if (!store) return fail(store.error());
  auto records = store->list();
  if (!records) return fail(records.error());
  bool all = vm["all"].as<bool>();
  bool json = vm["json"].as<bool>();
  bool quiet = vm["quiet"].as<bool>();
  std::erase_if(*records, [&](const scheduler::WorkloadRecord& record) {
    return !all && record.state != scheduler::WorkloadState::kRunning;
  });
  // As wide as the longest name shown (a task's containers are FAMILY-TASKID8-NAME), and a gap.
  std::size_t nameWidth = 16;
  for (const auto& record : *records) nameWidth = std::max(nameWidth, record.name.size() + 2);
  if (!json && !quiet) {
    std::cout << std::left << std::setw(14) << "ID" << std::setw(static_cast<int>(nameWidth))
              << "NAME" << std::setw(11) << "ISOLATION" << std::setw(42) << "STATUS"
              << std::setw(18) << "CREATED"
              << "COMMAND\n";
  }
  for (const auto& record : *records) {
    if (json) {
      std::cout << scheduler::toJson(record).dump() << "\n";
      continue;
    }
    if (quiet) {
      std::cout << record.id.substr(0, 12) << "\n";
      continue;
    }
    std::cout << std::left << std::setw(14) << record.id.substr(0, 12)
              << std::setw(static_cast<int>(nameWidth)) << (record.name.empty() ? "-" : record.name)
              << std::setw(11) << toString(record.isolation) << std::setw(42) << status(record)
              << std::setw(18) << ago(record.createdNs) << joined(record.command) << "\n";
  }
  return 0;
}

}  // namespace tandem::cli

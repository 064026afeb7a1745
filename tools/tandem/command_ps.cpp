// tandem ps: the workloads the state store knows, at both isolation levels, as docker ps shows
// containers: running ones by default, every record with -a, or JSON lines for scripts.
#include <boost/program_options.hpp>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "scheduler/workload_store.h"
#include "tools/tandem/commands.h"
#include "tools/tandem/verb_options.h"

namespace po = boost::program_options;

namespace tandem::cli {
namespace {

po::options_description psOptions() {
  po::options_description options(
      "usage: tandem ps [-a] [--json]\n"
      "Lists running workloads, containers and microVMs alike; a workload whose tandem process "
      "died shows as lost.\n"
      "options");
  options.add_options()("help,h", "show this help")("all,a", po::bool_switch(),
                                                    "also list workloads that ended or were lost")(
      "json", po::bool_switch(), "one JSON object per workload and line");
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
      return "running";
    case scheduler::WorkloadState::kExited:
      return "exited (" + std::to_string(record.exitCode.value_or(-1)) + ") " +
             ago(record.finishedNs);
    case scheduler::WorkloadState::kLost:
      return "lost (tandem process " + std::to_string(record.ownerPid) + " is gone)";
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

nlohmann::json toJson(const scheduler::WorkloadRecord& record) {
  nlohmann::json json = {{"id", record.id},
                         {"name", record.name},
                         {"isolation", toString(record.isolation)},
                         {"reason", record.reason},
                         {"command", record.command},
                         {"state", toString(record.state)},
                         {"owner_pid", record.ownerPid},
                         {"created_ns", record.createdNs}};
  if (record.exitCode) json["exit_code"] = *record.exitCode;
  if (record.finishedNs != 0) json["finished_ns"] = record.finishedNs;
  return json;
}

}  // namespace

int psCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  po::options_description options = psOptions();
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return fail(Error(std::string(e.what()) + "; see tandem ps --help"));
  }
  if (vm.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  auto store = scheduler::WorkloadStore::open(global.stateRoot);
  if (!store) return fail(store.error());
  auto records = store->list();
  if (!records) return fail(records.error());
  bool all = vm["all"].as<bool>();
  bool json = vm["json"].as<bool>();
  if (!json) {
    std::cout << std::left << std::setw(14) << "ID" << std::setw(16) << "NAME" << std::setw(11)
              << "ISOLATION" << std::setw(42) << "STATUS" << std::setw(18) << "CREATED"
              << "COMMAND\n";
  }
  for (const auto& record : *records) {
    if (!all && record.state != scheduler::WorkloadState::kRunning) continue;
    if (json) {
      std::cout << toJson(record).dump() << "\n";
      continue;
    }
    std::cout << std::left << std::setw(14) << record.id.substr(0, 12) << std::setw(16)
              << (record.name.empty() ? "-" : record.name) << std::setw(11)
              << toString(record.isolation) << std::setw(42) << status(record) << std::setw(18)
              << ago(record.createdNs) << joined(record.command) << "\n";
  }
  return 0;
}

}  // namespace tandem::cli

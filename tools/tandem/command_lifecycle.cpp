// The verbs that act on running workloads, at both isolation levels alike, through the state
// store's records of each workload's monitor and process:
// - tandem kill: a signal for the workload (through its monitor, as an attached tandem passes
//   one on, or straight to its process for signals no process can catch);
// - tandem stop: SIGTERM, then SIGKILL after a grace period, and the workload's end awaited;
// - tandem wait: the workload's end awaited, and its exit code printed.
#include <signal.h>

#include <boost/program_options.hpp>
#include <iostream>

#include "common/process.h"
#include "common/signal_name.h"
#include "scheduler/workload_control.h"
#include "tools/tandem/commands.h"
#include "tools/tandem/verb_options.h"
#include "tools/tandem/workload_state.h"

namespace po = boost::program_options;

namespace tandem::cli {
namespace {

// Parses a verb's options with WORKLOAD operands into `references`. Answers an exit code when
// the verb is done (help, a usage error).
std::optional<int> parseWithWorkloads(const std::vector<std::string>& args,
                                      po::options_description& options, const std::string& usage,
                                      po::variables_map& vm, std::vector<std::string>& references) {
  options.add_options()("workload", po::value<std::vector<std::string>>(),
                        "a workload's name, id or id prefix");
  po::positional_options_description positional;
  positional.add("workload", -1);
  if (auto done = parseVerbOptions(args, options, positional, vm)) return done;
  if (vm.count("workload")) references = vm["workload"].as<std::vector<std::string>>();
  if (references.empty()) return fail(Error(usage + "; see --help"));
  return std::nullopt;
}

}  // namespace

int killCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  std::string usage = "usage: tandem kill [-s SIGNAL] WORKLOAD...";
  po::options_description options(usage +
                                  "\nSends a signal to running workloads (default SIGKILL).\n"
                                  "options");
  options.add_options()("help,h", "show this help")(
      "signal,s", po::value<std::string>()->default_value("KILL"), "signal name or number");
  po::variables_map vm;
  std::vector<std::string> references;
  if (auto done = parseWithWorkloads(args, options, usage, vm, references)) return *done;
  auto signal = parseSignal(vm["signal"].as<std::string>());
  if (!signal) return fail(signal.error());
  auto store = openWorkloadStore(global);
  if (!store) return fail(store.error());
  int status = 0;
  for (const std::string& reference : references) {
    auto record = store->find(reference);
    Status sent = !record ? Status(record.error())
                  : record->state != scheduler::WorkloadState::kRunning
                      ? scheduler::notRunning(*record)
                      : okStatus();
    // Ended by a user, it is not restarted by its policy; a signal it may handle and live on
    // (SIGUSR1, SIGHUP) leaves its policy alone.
    if (sent && (*signal == SIGKILL || *signal == SIGTERM || *signal == SIGINT)) {
      sent = store->requestStop(record->id);
    }
    if (sent) sent = scheduler::deliver(*record, *signal);
    if (!sent) {
      status = fail(sent.error());
      continue;
    }
    std::cout << reference << "\n";
  }
  return status;
}

int stopCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  std::string usage = "usage: tandem stop [-t SECONDS] WORKLOAD...";
  po::options_description options(
      usage +
      "\nStops running workloads: SIGTERM, then SIGKILL if one is still running after the grace "
      "period; returns once each has ended.\noptions");
  options.add_options()("help,h", "show this help")(
      "time,t", po::value<double>()->default_value(10), "seconds of grace before SIGKILL");
  po::variables_map vm;
  std::vector<std::string> references;
  if (auto done = parseWithWorkloads(args, options, usage, vm, references)) return *done;
  double grace = vm["time"].as<double>();
  if (!(grace >= 0)) return fail(Error("--time takes a number of seconds, 0 or more"));
  auto store = openWorkloadStore(global);
  if (!store) return fail(store.error());
  int status = 0;
  for (const std::string& reference : references) {
    auto record = store->find(reference);
    if (!record) {
      status = fail(record.error());
      continue;
    }
    if (record->state == scheduler::WorkloadState::kRunning) {
      // Stopped by a user, it is not restarted by its policy.
      Status stopped = store->requestStop(record->id);
      if (stopped) stopped = scheduler::deliver(*record, SIGTERM);
      auto ended =
          stopped ? scheduler::awaitEnd(
                        *record, std::chrono::milliseconds(static_cast<std::int64_t>(grace * 1000)))
                  : Result<bool>(stopped.error());
      if (ended && !*ended) {
        // Read again: a workload that was starting at the SIGTERM has its process now.
        auto current = store->find(record->id);
        stopped = current ? scheduler::deliver(*current, SIGKILL) : Status(current.error());
        ended =
            stopped ? scheduler::awaitEnd(*record, std::nullopt) : Result<bool>(stopped.error());
      }
      if (!ended) {
        status = fail(ended.error());
        continue;
      }
    }
    std::cout << reference << "\n";
  }
  return status;
}

int waitCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  std::string usage = "usage: tandem wait WORKLOAD...";
  po::options_description options(usage +
                                  "\nWaits for workloads to end and prints their exit codes.\n"
                                  "options");
  options.add_options()("help,h", "show this help");
  po::variables_map vm;
  std::vector<std::string> references;
  if (auto done = parseWithWorkloads(args, options, usage, vm, references)) return *done;
  auto store = openWorkloadStore(global);
  if (!store) return fail(store.error());
  int status = 0;
  for (const std::string& reference : references) {
    auto record = store->find(reference);
    if (record && record->state == scheduler::WorkloadState::kRunning) {
      if (auto ended = scheduler::awaitEnd(*record, std::nullopt); !ended) {
        status = fail(ended.error());
        continue;
      }
      record = store->find(record->id);
    }
    if (!record) {
      status = fail(record.error());
    } else if (record->state == scheduler::WorkloadState::kExited) {
      std::cout << record->exitCode.value_or(kExitRuntimeError) << "\n";
    } else {
      // Read once more by the next command's repair; its end is not known.
      status = fail(Error("workload " + record->id.substr(0, 12) +
                          " was lost: its monitor died, and how it ended is not known"));
    }
  }
  return status;
}

}  // namespace tandem::cli

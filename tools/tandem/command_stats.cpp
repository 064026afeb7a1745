// tandem stats: what running workloads hold of the host, containers and microVMs side by side
// in one table: CPU (a container's cgroup; a microVM's tandem-vmm, vCPUs included), memory (a
// container's cgroup; a microVM's resident VMM, the guest memory it has touched included) and,
// for containers, processes. CPU is a rate, so each figure comes from two samples.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/size.h"
#include "tools/tandem/commands.h"
#include "tools/tandem/verb_options.h"
#include "tools/tandem/workload_state.h"

namespace po = boost::program_options;

namespace tandem::cli {
namespace {

struct Sample {
  scheduler::WorkloadRecord record;
  ResourceUsage usage;
  std::chrono::steady_clock::time_point at;
};

struct Row {
  scheduler::WorkloadRecord record;
  double cpuPercent = 0;  // of one CPU
  ResourceUsage usage;
};

// The running workloads among `references` (every running one when empty), measured now.
// Workloads that ended since the list was read drop out.
std::vector<Sample> sample(scheduler::WorkloadStore& store, Backends& backends,
                           const std::vector<std::string>& references, Status& problem) {
  std::vector<scheduler::WorkloadRecord> records;
  if (references.empty()) {
    if (auto all = store.list()) {
      for (auto& record : *all) {
        if (record.state == scheduler::WorkloadState::kRunning && record.workloadPid != 0) {
          records.push_back(std::move(record));
        }
      }
    } else {
      problem = all.error();
    }
  } else {
    for (const std::string& reference : references) {
      auto record = store.find(reference);
      if (!record) {
        problem = record.error();
      } else if (record->state != scheduler::WorkloadState::kRunning) {
        problem = Error("workload " + record->id.substr(0, 12) + " is not running", ESRCH);
      } else {
        records.push_back(std::move(*record));
      }
    }
  }
  std::vector<Sample> samples;
  for (auto& record : records) {
    auto usage = backends.of(record.isolation).usage(record.id, record.workloadPid);
    if (usage) {
      samples.push_back({std::move(record), *usage, std::chrono::steady_clock::now()});
    }
  }
  return samples;
}

std::vector<Row> rates(const std::vector<Sample>& before, const std::vector<Sample>& after) {
  std::vector<Row> rows;
  for (const Sample& now : after) {
    Row row{now.record, 0, now.usage};
    for (const Sample& then : before) {
      if (then.record.id != now.record.id) continue;
      double wallNs = std::chrono::duration<double, std::nano>(now.at - then.at).count();
      if (wallNs > 0 && now.usage.cpuNanos >= then.usage.cpuNanos) {
        row.cpuPercent =
            100.0 * static_cast<double>(now.usage.cpuNanos - then.usage.cpuNanos) / wallNs;
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

nlohmann::json toJson(const Row& row) {
  nlohmann::json json = {{"id", row.record.id},
                         {"name", row.record.name},
                         {"isolation", toString(row.record.isolation)},
                         {"cpu_percent", row.cpuPercent},
                         {"cpu_ns", row.usage.cpuNanos},
                         {"memory_bytes", row.usage.memoryBytes}};
  if (row.usage.memoryLimitBytes != 0) json["memory_limit_bytes"] = row.usage.memoryLimitBytes;
  if (row.usage.processes) json["processes"] = *row.usage.processes;
  return json;
}

void printTable(const std::vector<Row>& rows) {
  std::cout << std::left << std::setw(14) << "ID" << std::setw(16) << "NAME" << std::setw(11)
            << "ISOLATION" << std::setw(9) << "CPU %" << std::setw(24) << "MEM USAGE / LIMIT"
            << std::setw(8) << "MEM %"
            << "PIDS\n";
  for (const Row& row : rows) {
    std::ostringstream cpu, memory, share;
    cpu << std::fixed << std::setprecision(2) << row.cpuPercent << "%";
    memory << formatApproximateSize(row.usage.memoryBytes) << " / "
           << (row.usage.memoryLimitBytes ? formatApproximateSize(row.usage.memoryLimitBytes)
                                          : "-");
    if (row.usage.memoryLimitBytes) {
      share << std::fixed << std::setprecision(2)
            << 100.0 * static_cast<double>(row.usage.memoryBytes) /
                   static_cast<double>(row.usage.memoryLimitBytes)
            << "%";
    } else {
      share << "-";
    }
    std::cout << std::setw(14) << row.record.id.substr(0, 12) << std::setw(16)
              << (row.record.name.empty() ? "-" : row.record.name) << std::setw(11)
              << toString(row.record.isolation) << std::setw(9) << cpu.str() << std::setw(24)
              << memory.str() << std::setw(8) << share.str()
              << (row.usage.processes ? std::to_string(*row.usage.processes) : "-") << "\n";
  }
}

}  // namespace

int statsCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  po::options_description options(
      "usage: tandem stats [--no-stream] [--json] [WORKLOAD...]\n"
      "Shows what running workloads (default: all) use: CPU, memory and processes, refreshed "
      "every second until interrupted or until none runs.\noptions");
  options.add_options()("help,h", "show this help")("no-stream", po::bool_switch(),
                                                    "print one measurement and exit")(
      "json", po::bool_switch(), "one JSON object per workload and line")(
      "workload", po::value<std::vector<std::string>>(), "a workload's name, id or id prefix");
  po::positional_options_description positional;
  positional.add("workload", -1);
  po::variables_map vm;
  if (auto done = parseVerbOptions(args, options, positional, vm)) return *done;
  std::vector<std::string> references;
  if (vm.count("workload")) references = vm["workload"].as<std::vector<std::string>>();
  bool stream = !vm["no-stream"].as<bool>();
  bool json = vm["json"].as<bool>();
  auto store = openWorkloadStore(global);
  if (!store) return fail(store.error());
  Backends backends(global);
  Status problem = okStatus();
  std::vector<Sample> before = sample(*store, backends, references, problem);
  if (!problem) return fail(problem.error());
  bool terminal = ::isatty(STDOUT_FILENO) == 1;
  for (;;) {
    std::this_thread::sleep_for(stream ? std::chrono::seconds(1) : std::chrono::milliseconds(500));
    std::vector<Sample> after = sample(*store, backends, references, problem);
    std::vector<Row> rows = rates(before, after);
    if (json) {
      for (const Row& row : rows) std::cout << toJson(row).dump() << "\n";
    } else {
      // A terminal shows one table in place; a pipe gets one table after another.
      if (stream && terminal) std::cout << "\033[2J\033[H";
      printTable(rows);
    }
    std::cout.flush();
    if (!stream || after.empty()) break;
    before = std::move(after);
  }
  return 0;
}

}  // namespace tandem::cli

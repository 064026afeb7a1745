// tandem task: ECS-like task definitions (scheduler/task_definition.h).
//   validate FILE    checks one, naming the field of each error, and shows its start order;
//   run FILE         runs it under a supervisor of its own (scheduler/task_supervisor.h):
//                    attached until it ends (its exit code is the essential container's), or
//                    with -d until it runs, printing its id;
//   ps [-a]          lists running (or all) tasks;
//   inspect REF      shows a task's record, with each container's workload state;
//   stop REF         stops its containers (SIGTERM, then SIGKILL) and its sandbox;
//   rm [-f] REF      removes an ended task's record and its containers' (-f stops it first).
#include <sys/signalfd.h>

#include <boost/program_options.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/child_process.h"
#include "common/file.h"
#include "common/process_identity.h"
#include "container/runtime.h"
#include "scheduler/task_control.h"
#include "scheduler/task_definition.h"
#include "scheduler/task_store.h"
#include "scheduler/task_supervisor.h"
#include "scheduler/workload_control.h"
#include "scheduler/workload_monitor.h"
#include "scheduler/workload_store.h"
#include "tools/tandem/commands.h"
#include "tools/tandem/task_plan.h"
#include "tools/tandem/verb_options.h"
#include "tools/tandem/workload_state.h"

namespace po = boost::program_options;

namespace tandem::cli {
namespace {

constexpr const char* kUsage =
    "usage: tandem task validate FILE | run [-d] [--isolation LEVEL] [--trust T] [--class C] "
    "[--policy FILE] FILE | ps [-a] [--json] | "
    "inspect REF | stop REF | rm [-f] REF";

int validate(const std::string& path) {
  auto text = readFile(path);
  if (!text) return fail(text.error().context("cannot read the task definition"));
  auto task = scheduler::parseTaskDefinition(*text, path);
  if (!task) return fail(task.error());
  std::cout << "family: " << task->family << "\n"
            << "isolation: " << toString(task->isolation) << "\n"
            << "network: " << toString(task->network) << "\n";
  if (task->cpuUnits) std::cout << "cpu: " << *task->cpuUnits << " units\n";
  if (task->memoryMiB) std::cout << "memory: " << *task->memoryMiB << " MiB\n";
  std::cout << "start order:\n";
  for (std::size_t index : scheduler::startOrder(*task)) {
    const scheduler::ContainerDefinition& container = task->containers[index];
    std::cout << "  " << container.name << (container.essential ? " (essential)" : "") << ": "
              << container.image;
    for (std::size_t i = 0; i < container.dependsOn.size(); ++i) {
      std::cout << (i ? ", " : "; after ") << container.dependsOn[i].containerName << " "
                << toString(container.dependsOn[i].condition);
    }
    std::cout << "\n";
  }
  return 0;
}

int run(const GlobalOptions& global, const std::string& path, bool detached,
        const TaskPlacement& placement) {
  Backends backends(global);
  auto task =
      loadTask(path, placement, backends.of(Isolation::kContainer), backends.of(Isolation::kVm));
  if (!task) return fail(task.error());
  auto plan = planTask(global.stateRoot, task->definition, task->text, task->choice);
  if (!plan) return fail(plan.error());
  IsolationBackend& backend = backends.of(plan->record.isolation);
  sigset_t passedOn = scheduler::signalsPassedOn();
  SignalBlock blocked(passedOn);
  UniqueFd signals(::signalfd(-1, &passedOn, SFD_CLOEXEC));
  if (!signals) return fail(Error::fromErrno("cannot create a signalfd to pass signals on"));
  auto supervisor = scheduler::TaskSupervisor::start(*plan, backend);
  if (!supervisor) return fail(supervisor.error());
  for (;;) {
    auto report = supervisor->nextReport(detached ? -1 : signals.get());
    if (!report) return fail(report.error());
    if (report->kind == scheduler::TaskReport::Kind::kRunning) {
      if (detached) {
        std::cout << plan->record.id << "\n";
        return 0;
      }
      continue;
    }
    if (report->exitCode != 0 || detached) {
      std::cerr << "tandem: task " << plan->record.id.substr(0, 12)
                << " stopped: " << report->message << "\n";
    }
    return report->exitCode;
  }
}

// Each record, read as lost when its supervisor is gone, and marked so for good.
Result<std::vector<scheduler::TaskRecord>> tasksOf(scheduler::TaskStore& store) {
  TANDEM_ASSIGN_OR_RETURN(std::vector<scheduler::TaskRecord> records, store.list());
  for (const scheduler::TaskRecord& record : records) {
    if (record.state == scheduler::TaskState::kLost && record.finishedNs == 0) {
      (void)store.markLost(record);
    }
  }
  return records;
}

int ps(const GlobalOptions& global, bool all, bool json) {
  auto store = scheduler::TaskStore::open(global.stateRoot);
  if (!store) return fail(store.error());
  auto records = tasksOf(*store);
  if (!records) return fail(records.error());
  if (!json) std::cout << "TASK ID       FAMILY           STATUS     CONTAINERS\n";
  for (const scheduler::TaskRecord& record : *records) {
    if (!all && record.state != scheduler::TaskState::kRunning) continue;
    if (json) {
      std::cout << scheduler::toJson(record).dump() << "\n";
      continue;
    }
    std::string status = scheduler::toString(record.state);
    if (record.exitCode) status += " (" + std::to_string(*record.exitCode) + ")";
    std::string names;
    for (const auto& container : record.containers) {
      names += (names.empty() ? "" : ",") + container.name;
    }
    std::printf("%-13s %-16s %-10s %s\n", record.id.substr(0, 12).c_str(), record.family.c_str(),
                status.c_str(), names.c_str());
  }
  return 0;
}

int inspect(const GlobalOptions& global, const std::string& reference) {
  auto store = scheduler::TaskStore::open(global.stateRoot);
  if (!store) return fail(store.error());
  auto record = store->find(reference);
  if (!record) return fail(record.error());
  auto workloads = openWorkloadStore(global);
  if (!workloads) return fail(workloads.error());
  nlohmann::json json = scheduler::toJson(*record);
  for (nlohmann::json& container : json["containers"]) {
    if (!container.contains("workload_id")) continue;
    auto member = workloads->find(container["workload_id"].get<std::string>());
    if (!member) continue;
    container["name_of_workload"] = member->name;
    container["state"] = scheduler::toString(member->state);
    if (member->exitCode) container["exit_code"] = *member->exitCode;
  }
  std::cout << json.dump(2) << "\n";
  return 0;
}

// A running task's supervisor stops it; a lost one's containers are killed here.
Status stopTask(const GlobalOptions& global, scheduler::TaskStore& store,
                const scheduler::TaskRecord& record) {
  if (record.state == scheduler::TaskState::kRunning) {
    TANDEM_TRY(store.requestStop(record.id));
    ::kill(record.ownerPid, SIGTERM);
    // The supervisor records the end before it exits; a zombie it leaves is no sign of it.
    for (;;) {
      TANDEM_ASSIGN_OR_RETURN(scheduler::TaskRecord now, store.find(record.id));
      if (now.state != scheduler::TaskState::kRunning) break;
      ::usleep(50'000);
    }
    return okStatus();
  }
  TANDEM_ASSIGN_OR_RETURN(scheduler::WorkloadStore workloads, openWorkloadStore(global));
  return scheduler::stopLeftovers(store, workloads, record,
                                  "its supervisor was lost; stopped by a user");
}

int stop(const GlobalOptions& global, const std::string& reference) {
  auto store = scheduler::TaskStore::open(global.stateRoot);
  if (!store) return fail(store.error());
  auto record = store->find(reference);
  if (!record) return fail(record.error());
  if (auto stopped = stopTask(global, *store, *record); !stopped) return fail(stopped.error());
  std::cout << record->id << "\n";
  return 0;
}

// The task's record, its containers' and sandbox's records with what their runs kept, and its
// supervisor's log. A running task is refused unless `force`, which stops it first.
int remove(const GlobalOptions& global, const std::string& reference, bool force) {
  auto store = scheduler::TaskStore::open(global.stateRoot);
  if (!store) return fail(store.error());
  auto record = store->find(reference);
  if (!record) return fail(record.error());
  if (record->state == scheduler::TaskState::kRunning && !force) {
    return fail(Error("task " + record->id.substr(0, 12) + " is running under its supervisor, " +
                          "process " + std::to_string(record->ownerPid) +
                          "; stop it first (tandem task stop), or use task rm -f",
                      EBUSY));
  }
  if (force) {
    if (auto stopped = stopTask(global, *store, *record); !stopped) return fail(stopped.error());
  }
  auto workloads = openWorkloadStore(global);
  if (!workloads) return fail(workloads.error());
  for (const std::string& id : scheduler::memberWorkloads(*record)) {
    if (!workloads->find(id)) continue;  // removed already, by tandem rm
    if (auto removed = removeWorkload(global, *workloads, id, force); !removed) {
      return fail(removed.error().context("task " + record->id.substr(0, 12)));
    }
  }
  if (auto removed = removeTree(scheduler::taskLogPath(global.stateRoot, record->id)); !removed) {
    return fail(removed.error());
  }
  if (auto removed = store->remove(record->id); !removed) return fail(removed.error());
  std::cout << record->id << "\n";
  return 0;
}

}  // namespace

int taskCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  po::options_description options(std::string(kUsage) +
                                  "\nRuns and checks ECS-like tasks.\noptions");
  options.add_options()("help,h", "show this help")(
      "detach,d", po::bool_switch(), "run: return once the task runs, printing its id")(
      "all,a", po::bool_switch(), "ps: ended and lost tasks too")(
      "json", po::bool_switch(), "ps: one JSON record a line")("force,f", po::bool_switch(),
                                                               "rm: stop a running task first");
  options.add(taskPlacementOptions());
  po::variables_map vm;
  std::vector<std::string> words;
  if (auto done = parseSubVerb(args, options, vm, words)) return *done;
  if (words.size() == 2 && words[0] == "validate") return validate(words[1]);
  if (words.size() == 2 && words[0] == "run") {
    auto placement = taskPlacementFrom(vm);
    if (!placement) return fail(placement.error());
    return run(global, words[1], vm["detach"].as<bool>(), *placement);
  }
  if (words.size() == 1 && words[0] == "ps") {
    return ps(global, vm["all"].as<bool>(), vm["json"].as<bool>());
  }
  if (words.size() == 2 && words[0] == "inspect") return inspect(global, words[1]);
  if (words.size() == 2 && words[0] == "stop") return stop(global, words[1]);
  if (words.size() == 2 && words[0] == "rm")
    return remove(global, words[1], vm["force"].as<bool>());
  return fail(Error(kUsage));
}

}  // namespace tandem::cli

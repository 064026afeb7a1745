// tandem service: keeps N tasks of one task definition running, as an ECS service does.
//   create [--replicas N] [--isolation LEVEL] [--name NAME] FILE
//                    records the service and starts its controller
//                    (scheduler/service_controller.h), printing the service's id;
//   ls [--json]      lists services, with their desired and running task counts;
//   inspect REF      shows a service's record and its running tasks;
//   scale REF --replicas N
//                    changes the desired count; the controller starts or stops tasks;
//   rm REF           stops every task of the service, then removes its record.
// Each verb first starts a controller again for any service whose controller was lost: its
// tasks ran on, and the new controller takes them over.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/file.h"
#include "common/process.h"
#include "scheduler/service_controller.h"
#include "scheduler/service_store.h"
#include "scheduler/task_definition.h"
#include "scheduler/task_store.h"
#include "tools/tandem/commands.h"
#include "tools/tandem/task_plan.h"
#include "tools/tandem/verb_options.h"
#include "tools/tandem/workload_state.h"

namespace po = boost::program_options;

namespace tandem::cli {
namespace {

constexpr const char* kUsage =
    "usage: tandem service create [--replicas N] [--isolation LEVEL] [--trust T] [--class C] "
    "[--policy FILE] [--name NAME] FILE | ls "
    "[--json] | inspect REF | scale REF --replicas N | rm REF";

constexpr auto kPoll = std::chrono::milliseconds(100);
constexpr auto kClaimTimeout = std::chrono::seconds(10);

// The controller of `record`, made a process of its own: tandem again, with the hidden verb
// `service controller ID`.
Result<pid_t> startController(const GlobalOptions& global, const scheduler::ServiceRecord& record) {
  TANDEM_ASSIGN_OR_RETURN(std::string self, ownExecutablePath());
  std::vector<std::string> argv = {self,      "--state-root", global.stateRoot,
                                   "service", "controller",   record.id};
  std::vector<char*> args = execArgv(argv);
  pid_t pid = ::fork();
  if (pid < 0) return Error::fromErrno("cannot start the controller of service " + record.name);
  if (pid == 0) {
    ::execv(args[0], args.data());
    ::_exit(kExitCannotExecute);
  }
  TANDEM_ASSIGN_OR_RETURN(scheduler::ServiceStore store,
                          scheduler::ServiceStore::open(global.stateRoot));
  auto deadline = std::chrono::steady_clock::now() + kClaimTimeout;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(scheduler::ServiceRecord now, store.find(record.id));
    if (now.ownerPid == pid && now.state == scheduler::ServiceState::kRunning) return pid;
    if (::waitpid(pid, nullptr, WNOHANG) != 0 || std::chrono::steady_clock::now() >= deadline) {
      return Error("the controller of service " + record.name + " did not start; see " +
                       scheduler::serviceLogPath(global.stateRoot, record.id),
                   EIO);
    }
    std::this_thread::sleep_for(kPoll);
  }
}

[[noreturn]] void control(const GlobalOptions& global, const std::string& id) {
  Backends backends(global);
  auto record = [&]() -> Result<scheduler::ServiceRecord> {
    TANDEM_ASSIGN_OR_RETURN(scheduler::ServiceStore store,
                            scheduler::ServiceStore::open(global.stateRoot));
    return store.find(id);
  }();
  auto definition = record ? scheduler::parseTaskDefinition(record->definition, record->name)
                           : Result<scheduler::TaskDefinition>(record.error());
  if (!definition) {
    std::cerr << "tandem: " << definition.error().describe() << "\n";
    ::_exit(kExitRuntimeError);
  }
  scheduler::ServicePlan plan;
  plan.stateRoot = global.stateRoot;
  plan.serviceId = record->id;
  plan.definition = *definition;
  plan.planTask = [&] {
    return planTask(
        global.stateRoot, *definition, record->definition,
        scheduler::IsolationChoice{record->isolation, "the service's: " + record->reason, {}});
  };
  plan.backendFor = [&backends](Isolation level) -> IsolationBackend& {
    return backends.of(level);
  };
  scheduler::runServiceController(plan);
}

// Opens the store, and starts a controller again for each service whose controller is gone.
Result<scheduler::ServiceStore> openServices(const GlobalOptions& global) {
  TANDEM_ASSIGN_OR_RETURN(scheduler::ServiceStore store,
                          scheduler::ServiceStore::open(global.stateRoot));
  TANDEM_ASSIGN_OR_RETURN(std::vector<scheduler::ServiceRecord> records, store.list());
  for (const scheduler::ServiceRecord& record : records) {
    if (record.state != scheduler::ServiceState::kLost) continue;
    TANDEM_TRY(store.markLost(record));
    auto started = startController(global, record);
    if (!started) {
      std::cerr << "tandem: service " << record.name << " lost its controller, and "
                << started.error().describe() << "\n";
      continue;
    }
    std::cerr << "tandem: service " << record.name
              << " lost its controller; a new one took over its tasks\n";
  }
  return store;
}

struct FoundService {
  scheduler::ServiceStore store;
  scheduler::ServiceRecord record;
};

Result<FoundService> findService(const GlobalOptions& global, const std::string& reference) {
  TANDEM_ASSIGN_OR_RETURN(scheduler::ServiceStore store, openServices(global));
  TANDEM_ASSIGN_OR_RETURN(scheduler::ServiceRecord record, store.find(reference));
  return FoundService{std::move(store), std::move(record)};
}

// The running tasks of service `serviceId`.
Result<std::vector<scheduler::TaskRecord>> runningTasksOf(const GlobalOptions& global,
                                                          const std::string& serviceId) {
  TANDEM_ASSIGN_OR_RETURN(scheduler::TaskStore tasks, scheduler::TaskStore::open(global.stateRoot));
  TANDEM_ASSIGN_OR_RETURN(std::vector<scheduler::TaskRecord> records,
                          tasks.listOfService(serviceId, std::numeric_limits<std::int64_t>::max()));
  std::erase_if(records, [](const scheduler::TaskRecord& task) {
    return task.state != scheduler::TaskState::kRunning;
  });
  return records;
}

int create(const GlobalOptions& global, const std::string& path, unsigned replicas,
           const TaskPlacement& placement, std::string name) {
  Backends backends(global);
  auto task =
      loadTask(path, placement, backends.of(Isolation::kContainer), backends.of(Isolation::kVm));
  if (!task) return fail(task.error());
  auto store = openServices(global);
  if (!store) return fail(store.error());
  scheduler::ServiceRecord record;
  auto id = newWorkloadId();
  if (!id) return fail(id.error());
  record.id = *id;
  record.name = name.empty() ? task->definition.family : std::move(name);
  record.isolation = task->choice.level;
  record.reason = scheduler::describe(task->choice);
  record.definition = task->text;
  record.desired = replicas;
  if (auto created = store->create(record); !created) return fail(created.error());
  if (auto started = startController(global, record); !started) {
    (void)store->remove(record.id);
    return fail(started.error());
  }
  std::cout << record.id << "\n";
  return 0;
}

int list(const GlobalOptions& global, bool json) {
  auto store = openServices(global);
  if (!store) return fail(store.error());
  auto records = store->list();
  if (!records) return fail(records.error());
  if (!json) {
    std::cout << "SERVICE ID    NAME             ISOLATION  DESIRED  RUNNING  STATUS   REPLACED\n";
  }
  for (const scheduler::ServiceRecord& record : *records) {
    auto running = runningTasksOf(global, record.id);
    if (!running) return fail(running.error());
    if (json) {
      nlohmann::json line = scheduler::toJson(record);
      line["running"] = running->size();
      std::cout << line.dump() << "\n";
      continue;
    }
    std::printf("%-13s %-16s %-10s %-8u %-8zu %-8s %u\n", record.id.substr(0, 12).c_str(),
                record.name.c_str(), toString(record.isolation), record.desired, running->size(),
                scheduler::toString(record.state), record.replaced);
  }
  return 0;
}

int inspect(const GlobalOptions& global, const std::string& reference) {
  auto found = findService(global, reference);
  if (!found) return fail(found.error());
  const scheduler::ServiceRecord& record = found->record;
  auto running = runningTasksOf(global, record.id);
  if (!running) return fail(running.error());
  nlohmann::json json = scheduler::toJson(record);
  json["running"] = running->size();
  json["tasks"] = nlohmann::json::array();
  for (const scheduler::TaskRecord& task : *running) {
    json["tasks"].push_back(scheduler::toJson(task));
  }
  std::cout << json.dump(2) << "\n";
  return 0;
}

int scale(const GlobalOptions& global, const std::string& reference, unsigned replicas) {
  auto found = findService(global, reference);
  if (!found) return fail(found.error());
  scheduler::ServiceStore& store = found->store;
  const scheduler::ServiceRecord& record = found->record;
  if (record.stopRequested) {
    return fail(Error("service " + record.name + " is being removed", EINVAL));
  }
  if (auto set = store.setDesired(record.id, replicas); !set) return fail(set.error());
  std::cout << record.name << " scaled to " << replicas << "\n";
  return 0;
}

int remove(const GlobalOptions& global, const std::string& reference) {
  auto found = findService(global, reference);
  if (!found) return fail(found.error());
  scheduler::ServiceStore& store = found->store;
  const scheduler::ServiceRecord& record = found->record;
  if (auto asked = store.requestStop(record.id); !asked) return fail(asked.error());
  // The controller stops the tasks, each within its stop timeout, and then records the end.
  for (;;) {
    auto now = store.find(record.id);
    if (!now) return fail(now.error());
    if (now->state == scheduler::ServiceState::kStopped) break;
    if (now->state == scheduler::ServiceState::kLost) {
      return fail(Error("the controller of service " + record.name +
                            " ended before it stopped the service's tasks; see " +
                            scheduler::serviceLogPath(global.stateRoot, record.id) +
                            " and run tandem service rm again",
                        EIO));
    }
    std::this_thread::sleep_for(kPoll);
  }
  if (auto removed = removeTree(scheduler::serviceLogPath(global.stateRoot, record.id)); !removed) {
    return fail(removed.error());
  }
  if (auto removed = store.remove(record.id); !removed) return fail(removed.error());
  std::cout << record.id << "\n";
  return 0;
}

}  // namespace

int serviceCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  po::options_description options(
      std::string(kUsage) +
      "\nKeeps N tasks of an ECS-like task definition running, replacing those that end or "
      "fail their health checks.\noptions");
  options.add_options()("help,h", "show this help")(
      "replicas", po::value<unsigned>(),
      "create (default 1), scale: how many tasks to keep running")(
      "name", po::value<std::string>()->default_value(""),
      "create: the service's name (default: the task family)")("json", po::bool_switch(),
                                                               "ls: one JSON record a line");
  options.add(taskPlacementOptions());
  po::variables_map vm;
  std::vector<std::string> words;
  if (auto done = parseSubVerb(args, options, vm, words)) return *done;
  if (words.size() == 2 && words[0] == "create") {
    auto placement = taskPlacementFrom(vm);
    if (!placement) return fail(placement.error());
    unsigned replicas = vm.count("replicas") ? vm["replicas"].as<unsigned>() : 1;
    return create(global, words[1], replicas, *placement, vm["name"].as<std::string>());
  }
  if (words.size() == 1 && words[0] == "ls") return list(global, vm["json"].as<bool>());
  if (words.size() == 2 && words[0] == "inspect") return inspect(global, words[1]);
  if (words.size() == 2 && words[0] == "scale") {
    if (!vm.count("replicas")) return fail(Error("service scale needs --replicas N", EINVAL));
    return scale(global, words[1], vm["replicas"].as<unsigned>());
  }
  if (words.size() == 2 && words[0] == "rm") return remove(global, words[1]);
  if (words.size() == 2 && words[0] == "controller") control(global, words[1]);
  return fail(Error(kUsage));
}

}  // namespace tandem::cli

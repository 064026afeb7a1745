#include "scheduler/service_controller.h"

#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>

#include "common/log.h"
#include "common/process.h"
#include "scheduler/restart_policy.h"
#include "scheduler/service_reconcile.h"
#include "scheduler/service_store.h"
#include "scheduler/state_db.h"
#include "scheduler/task_control.h"
#include "scheduler/task_store.h"
#include "scheduler/workload_monitor.h"
#include "scheduler/workload_store.h"

namespace tandem::scheduler {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kTick{500};
constexpr std::int64_t kEndedMarginNs = 10'000'000'000;

std::string shortId(const std::string& id) {
  return id.substr(0, 12);
}

bool essentialUnhealthy(const TaskDefinition& definition, const TaskRecord& task) {
  for (const TaskContainerRecord& container : task.containers) {
    if (container.health != HealthStatus::kUnhealthy) continue;
    for (const ContainerDefinition& defined : definition.containers) {
      if (defined.name == container.name && defined.essential) return true;
    }
  }
  return false;
}

class Controller {
 public:
  explicit Controller(const ServicePlan& plan) : plan_(plan) {}

  // Runs until the service is removed; returns how it ended, for the log.
  Status run(int signals);

 private:
  Status reopenStores();
  Status tick(bool signalled);
  void noteEnded(const TaskRecord& task);
  void endLostTask(const TaskRecord& task);
  void startTask();
  void reapSupervisors();
  void event(const std::string& text, bool replacement = false);

  const ServicePlan& plan_;
  // Closed while a supervisor is forked, as the supervisor closes its own around each monitor:
  // SQLite's per-process state must not be copied into a child that opens the database itself.
  std::optional<ServiceStore> services_;
  std::optional<TaskStore> tasks_;
  std::vector<TaskSupervisor> supervisors_;
  // Tasks started whose supervisor has not recorded them yet: they count as running.
  std::map<std::string, pid_t> pending_;
  // Tasks seen running, and those this controller asked to stop.
  std::set<std::string> seenRunning_;
  std::set<std::string> stopAsked_;
  // When tick last read the tasks.
  std::int64_t lastLookNs_ = 0;
  unsigned quickFailures_ = 0;
  Clock::time_point nextStart_ = Clock::now();
  bool removing_ = false;
  bool done_ = false;
};

Status Controller::reopenStores() {
  TANDEM_ASSIGN_OR_RETURN(ServiceStore services, ServiceStore::open(plan_.stateRoot));
  TANDEM_ASSIGN_OR_RETURN(TaskStore tasks, TaskStore::open(plan_.stateRoot));
  services_.emplace(std::move(services));
  tasks_.emplace(std::move(tasks));
  return okStatus();
}

void Controller::event(const std::string& text, bool replacement) {
  spdlog::info("service {}: {}", shortId(plan_.serviceId), text);
  (void)services_->recordEvent(plan_.serviceId, text, replacement);
}

void Controller::noteEnded(const TaskRecord& task) {
  seenRunning_.erase(task.id);
  if (stopAsked_.erase(task.id) > 0) return;
  std::string how = task.state == TaskState::kLost
                        ? "lost its supervisor"
                        : "stopped (" + task.stoppedReason + ", exit code " +
                              std::to_string(task.exitCode.value_or(-1)) + ")";
  event("task " + shortId(task.id) + " " + how + "; replacing it", true);
  auto ranFor = std::chrono::nanoseconds(std::max<std::int64_t>(
      0, (task.finishedNs != 0 ? task.finishedNs : nowNs()) - task.createdNs));
  auto ran = std::chrono::duration_cast<milliseconds>(ranFor);
  bool failedAtOnce = ran < kStableRun && task.exitCode.value_or(1) != 0;
  quickFailures_ = failedAtOnce ? quickFailures_ + 1 : 0;
  if (quickFailures_ > 0) {
    nextStart_ = Clock::now() + restartDelay(quickFailures_, ran);
  }
}

// What a task whose supervisor died left running is ended here, before its replacement starts.
void Controller::endLostTask(const TaskRecord& task) {
  auto workloads = WorkloadStore::open(plan_.stateRoot);
  Status ended = workloads ? stopLeftovers(*tasks_, *workloads, task,
                                           "its supervisor was lost; replaced by its service")
                           : Status(workloads.error());
  if (!ended) {
    (void)tasks_->markLost(task);
    event("cannot end what lost task " + shortId(task.id) + " left: " + ended.error().describe());
  }
}

void Controller::startTask() {
  auto planned = plan_.planTask();
  if (!planned) {
    ++quickFailures_;
    nextStart_ = Clock::now() + restartDelay(quickFailures_, milliseconds(0));
    event("cannot start a task: " + planned.error().describe());
    return;
  }
  TaskPlan plan = std::move(planned).value();
  plan.record.serviceId = plan_.serviceId;
  services_.reset();
  tasks_.reset();
  auto supervisor = TaskSupervisor::start(plan, plan_.backendFor(plan.record.isolation));
  if (auto reopened = reopenStores(); !reopened) {
    spdlog::error("service {}: {}", shortId(plan_.serviceId), reopened.error().describe());
    ::_exit(kExitRuntimeError);
  }
  if (!supervisor) {
    event("cannot start a task: " + supervisor.error().describe());
    return;
  }
  pending_[plan.record.id] = supervisor->pid();
  supervisors_.push_back(std::move(supervisor).value());
  event("started task " + shortId(plan.record.id));
}

void Controller::reapSupervisors() {
  std::erase_if(supervisors_, [](const TaskSupervisor& supervisor) {
    return ::waitpid(supervisor.pid(), nullptr, WNOHANG) == supervisor.pid();
  });
}

Status Controller::tick(bool signalled) {
  TANDEM_ASSIGN_OR_RETURN(ServiceRecord service, services_->find(plan_.serviceId));
  if (signalled && !service.stopRequested) {
    TANDEM_TRY(services_->requestStop(plan_.serviceId));
    service.stopRequested = true;
  }
  if (service.stopRequested && !removing_) {
    removing_ = true;
    event("removing the service: stopping its tasks");
  }
  // Tasks that ended since the last look, with room for a record written late.
  std::int64_t lookedAt = nowNs();
  TANDEM_ASSIGN_OR_RETURN(std::vector<TaskRecord> records,
                          tasks_->listOfService(plan_.serviceId, lastLookNs_ - kEndedMarginNs));
  lastLookNs_ = lookedAt;
  std::vector<ServiceTask> running;
  for (const TaskRecord& task : records) {
    bool known = pending_.erase(task.id) > 0 || seenRunning_.contains(task.id);
    if (task.state != TaskState::kRunning) {
      if (task.state == TaskState::kLost && task.finishedNs == 0) endLostTask(task);
      if (known) noteEnded(task);
      continue;
    }
    seenRunning_.insert(task.id);
    auto stopping = tasks_->stopRequested(task.id);
    running.push_back({task.id, task.createdNs, stopping && *stopping,
                       essentialUnhealthy(plan_.definition, task)});
  }
  // A supervisor that ended before recording its task never ran it.
  std::erase_if(pending_, [](const auto& entry) { return ::kill(entry.second, 0) != 0; });
  for (const auto& [id, pid] : pending_) running.push_back({id, nowNs(), false, false});

  ServiceStep step = reconcile(service.desired, running, removing_);
  for (const TaskStop& stop : step.stop) {
    stopAsked_.insert(stop.taskId);
    (void)tasks_->requestStop(stop.taskId, stop.reason);
    event("stopping task " + shortId(stop.taskId) + ": " + stop.reason +
              (stop.replaced ? "; replacing it" : ""),
          stop.replaced);
  }
  if (removing_) {
    done_ = running.empty();
    return okStatus();
  }
  for (unsigned i = 0; i < step.start && Clock::now() >= nextStart_; ++i) startTask();
  return okStatus();
}

Status Controller::run(int signals) {
  TANDEM_TRY(reopenStores());
  TANDEM_TRY(services_->claim(plan_.serviceId));
  bool signalled = false;
  while (!done_) {
    TANDEM_TRY(tick(signalled));
    reapSupervisors();
    pollfd fd{signals, POLLIN, 0};
    if (!done_ && ::poll(&fd, 1, static_cast<int>(kTick.count())) > 0) {
      signalfd_siginfo info{};
      if (::read(signals, &info, sizeof info) == sizeof info) signalled = true;
    }
  }
  event("removed: every task stopped");
  return services_->finish(plan_.serviceId);
}

}  // namespace

std::string serviceLogPath(const std::string& stateRoot, const std::string& serviceId) {
  return stateRoot + "/services/" + serviceId + ".log";
}

[[noreturn]] void runServiceController(const ServicePlan& plan) {
  ::setsid();
  ::prctl(PR_SET_NAME, "tandem-service", 0, 0, 0);
  if (auto log = detachOutputTo(serviceLogPath(plan.stateRoot, plan.serviceId)); !log) {
    ::_exit(kExitRuntimeError);
  }
  sigset_t passedOn = signalsPassedOn();
  ::sigprocmask(SIG_BLOCK, &passedOn, nullptr);
  UniqueFd signals(::signalfd(-1, &passedOn, SFD_CLOEXEC));
  if (!signals) {
    spdlog::error("service {}: {}", shortId(plan.serviceId),
                  Error::fromErrno("cannot create the controller's signalfd").describe());
    ::_exit(kExitRuntimeError);
  }
  Controller controller(plan);
  if (Status ended = controller.run(signals.get()); !ended) {
    // The record reads as lost now; the next tandem service command starts a controller again.
    spdlog::error("service {}: {}", shortId(plan.serviceId), ended.error().describe());
    ::_exit(kExitRuntimeError);
  }
  ::_exit(0);
}

}  // namespace tandem::scheduler

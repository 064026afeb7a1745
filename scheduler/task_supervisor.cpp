#include "scheduler/task_supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/log.h"
#include "common/process.h"
#include "common/process_identity.h"
#include "scheduler/health_check.h"
#include "scheduler/report_channel.h"
#include "scheduler/task_progress.h"
#include "scheduler/workload_control.h"
#include "scheduler/workload_monitor.h"
#include "scheduler/workload_store.h"

namespace tandem::scheduler {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kTick{100};

void send(int socket, const TaskReport& report) {
  sendReport(socket, report.kind == TaskReport::Kind::kRunning
                         ? nlohmann::json{{"running", true}}
                         : nlohmann::json{{"ended", report.exitCode}, {"message", report.message}});
}

Result<TaskReport> parseReport(std::string_view text) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_object() && json.contains("running")) {
    return TaskReport{.kind = TaskReport::Kind::kRunning};
  }
  if (json.is_object() && json.contains("ended") && json["ended"].is_number_integer() &&
      json.contains("message") && json["message"].is_string()) {
    return TaskReport{.kind = TaskReport::Kind::kEnded,
                      .exitCode = json["ended"].get<int>(),
                      .message = json["message"].get<std::string>()};
  }
  return Error("the task's supervisor sent a report tandem cannot read: " + std::string(text),
               EPROTO);
}

// A health check in flight: `tandem exec` of the check's command, killed at its timeout.
struct RunningCheck {
  pid_t pid = 0;
  Clock::time_point deadline;
};

struct Member {
  ContainerStatus status;
  std::string workloadId;
  pid_t monitorPid = 0;
  Clock::time_point startedAt;
  std::optional<HealthTracker> health;
  Clock::time_point nextCheck;
  std::optional<RunningCheck> check;
  bool terminated = false;  // sent SIGTERM, the task stopping
  bool killed = false;
};

class Supervision {
 public:
  Supervision(const TaskPlan& plan, IsolationBackend& backend, TaskStore tasks,
              WorkloadStore workloads, int reports)
      : plan_(plan),
        backend_(backend),
        tasks_(std::move(tasks)),
        workloads_(std::move(workloads)),
        reports_(reports),
        members_(plan.containers.size()) {}

  // Runs the task to its end, records how it ended and returns the report to send.
  TaskReport run(int signals);

 private:
  struct Started {
    pid_t monitorPid = 0;
    std::optional<std::string> failure;  // why it never ran; its record says how it ended
  };
  Started startWorkload(const Workload& workload, const Reservation& reservation);
  Status reopenStores();
  Status startSandbox();
  void startMember(std::size_t index);
  void observe();
  void runChecks();
  void finishCheck(std::size_t index, bool passed);
  // SIGTERM to each running container when the stop began, SIGKILL to each still running once
  // its stopTimeout has passed since.
  void stopMembers(Clock::time_point began);
  void stopSandbox();
  void reapMonitors();
  bool userAskedToStop(int signals);

  const TaskPlan& plan_;
  IsolationBackend& backend_;
  // Closed while a monitor is forked: SQLite's per-process state must not be copied into a
  // child that opens the database itself, or the child's writes are lost once this process
  // dies (a monitor outlives a killed supervisor).
  std::optional<TaskStore> tasks_;
  std::optional<WorkloadStore> workloads_;
  int reports_;
  std::vector<Member> members_;
  std::vector<pid_t> monitors_;
  std::optional<WorkloadRecord> sandbox_;
};

Supervision::Started Supervision::startWorkload(const Workload& workload,
                                                const Reservation& reservation) {
  tasks_.reset();
  workloads_.reset();
  auto monitor = WorkloadMonitor::start(workload, backend_,
                                        {.stateRoot = plan_.stateRoot,
                                         .level = workload.isolation,
                                         .reason = plan_.record.reason,
                                         .detached = true,
                                         .reservation = reservation,
                                         .capacity = plan_.capacity});
  if (auto reopened = reopenStores(); !reopened) {
    // Without its records the supervisor cannot follow the task: it ends as a crash would, and
    // the task reads as lost; task stop ends what it started.
    spdlog::error("task {}: {}", plan_.record.id.substr(0, 12), reopened.error().describe());
    ::_exit(kExitRuntimeError);
  }
  if (!monitor) return {0, monitor.error().describe()};
  monitors_.push_back(monitor->pid());
  for (;;) {
    auto report = monitor->nextReport(-1);
    if (!report) return {monitor->pid(), report.error().describe()};
    if (report->kind == MonitorReport::Kind::kStarted) return {monitor->pid(), std::nullopt};
    // Its exit code is in its record; the message says more, when there is more to say.
    if (report->kind == MonitorReport::Kind::kEnded) return {monitor->pid(), report->message};
  }
}

Status Supervision::reopenStores() {
  TANDEM_ASSIGN_OR_RETURN(TaskStore tasks, TaskStore::open(plan_.stateRoot));
  TANDEM_ASSIGN_OR_RETURN(WorkloadStore workloads, WorkloadStore::open(plan_.stateRoot));
  tasks_.emplace(std::move(tasks));
  workloads_.emplace(std::move(workloads));
  return okStatus();
}

Status Supervision::startSandbox() {
  Started started = startWorkload(plan_.sandbox, plan_.sandboxReservation);
  if (started.failure) {
    return Error("the task's sandbox, which holds its network, did not start: " +
                 (started.failure->empty() ? std::string("it ended at once") : *started.failure));
  }
  TANDEM_ASSIGN_OR_RETURN(WorkloadRecord record, workloads_->find(plan_.sandbox.id));
  sandbox_ = record;
  return tasks_->setSandbox(plan_.record.id, record.id);
}

void Supervision::startMember(std::size_t index) {
  Member& member = members_[index];
  Workload workload = plan_.containers[index];
  workload.networkPeer = NetworkPeer{sandbox_->id, sandbox_->workloadPid, sandbox_->workloadStart};
  Started started = startWorkload(workload, plan_.reservations[index]);
  member.monitorPid = started.monitorPid;
  member.workloadId = workload.id;
  member.startedAt = Clock::now();
  (void)tasks_->containerStarted(plan_.record.id, plan_.definition.containers[index].name,
                                 workload.id);
  if (started.failure) {
    // Refused before it had a record (admission), or ended at once (a missing command).
    member.status = {ContainerPhase::kExited, kExitRuntimeError, HealthStatus::kNone,
                     *started.failure};
    if (auto record = workloads_->find(workload.id); record && record->exitCode) {
      member.status.exitCode = record->exitCode;
    }
    return;
  }
  member.status.phase = ContainerPhase::kRunning;
  if (const auto& check = plan_.definition.containers[index].healthCheck) {
    member.health.emplace(*check);
    member.status.health = HealthStatus::kStarting;
    member.nextCheck = member.startedAt + std::chrono::seconds(check->intervalSeconds);
    (void)tasks_->setHealth(plan_.record.id, plan_.definition.containers[index].name,
                            HealthStatus::kStarting);
  }
}

void Supervision::observe() {
  for (Member& member : members_) {
    if (member.status.phase != ContainerPhase::kRunning) continue;
    auto record = workloads_->find(member.workloadId);
    if (!record || record->state == WorkloadState::kRunning) continue;
    member.status.phase = ContainerPhase::kExited;
    member.status.exitCode = record->exitCode.value_or(137);
    member.status.message =
        record->state == WorkloadState::kLost ? "its monitor was lost" : record->message;
    if (member.check) {
      ::kill(member.check->pid, SIGKILL);
      ::waitpid(member.check->pid, nullptr, 0);
      member.check.reset();
    }
  }
}

void Supervision::finishCheck(std::size_t index, bool passed) {
  Member& member = members_[index];
  const ContainerDefinition& container = plan_.definition.containers[index];
  member.check.reset();
  auto now = Clock::now();
  HealthStatus before = member.status.health;
  member.status.health = member.health->record(
      passed, std::chrono::duration_cast<milliseconds>(now - member.startedAt));
  member.nextCheck = now + std::chrono::seconds(container.healthCheck->intervalSeconds);
  if (member.status.health != before) {
    spdlog::info("task {}: container {} is {}", plan_.record.id.substr(0, 12), container.name,
                 toString(member.status.health));
    (void)tasks_->setHealth(plan_.record.id, container.name, member.status.health);
  }
}

void Supervision::runChecks() {
  auto now = Clock::now();
  for (std::size_t i = 0; i < members_.size(); ++i) {
    Member& member = members_[i];
    if (!member.health || member.status.phase != ContainerPhase::kRunning) continue;
    if (member.check) {
      int status = 0;
      pid_t ended = ::waitpid(member.check->pid, &status, WNOHANG);
      if (ended == member.check->pid) {
        finishCheck(i, WIFEXITED(status) && WEXITSTATUS(status) == 0);
      } else if (now >= member.check->deadline) {
        ::kill(member.check->pid, SIGKILL);
        ::waitpid(member.check->pid, nullptr, 0);
        finishCheck(i, false);
      }
      continue;
    }
    if (now < member.nextCheck) continue;
    const HealthCheck& check = *plan_.definition.containers[i].healthCheck;
    std::vector<std::string> argv = plan_.execCommand;
    argv.push_back(member.workloadId);
    for (std::string& word : healthCheckCommand(check)) argv.push_back(std::move(word));
    pid_t pid = ::fork();
    if (pid == 0) {
      UniqueFd devNull(::open("/dev/null", O_RDWR));
      for (int fd = 0; fd < 3; ++fd) ::dup2(devNull.get(), fd);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      std::vector<char*> args;
      for (std::string& word : argv) args.push_back(word.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(kExitCannotExecute);
    }
    if (pid < 0) {
      finishCheck(i, false);
      continue;
    }
    member.check = RunningCheck{pid, now + std::chrono::seconds(check.timeoutSeconds)};
  }
}

void Supervision::stopMembers(Clock::time_point began) {
  auto now = Clock::now();
  for (std::size_t i = 0; i < members_.size(); ++i) {
    Member& member = members_[i];
    if (member.status.phase != ContainerPhase::kRunning || member.killed) continue;
    auto record = workloads_->find(member.workloadId);
    if (!record || record->state != WorkloadState::kRunning) continue;
    const auto& seconds = plan_.definition.containers[i].stopTimeoutSeconds;
    milliseconds timeout = seconds ? std::chrono::seconds(*seconds) : plan_.stopTimeout;
    if (!member.terminated) {
      (void)workloads_->requestStop(member.workloadId);
      (void)deliver(*record, SIGTERM);
      member.terminated = true;
    } else if (now >= began + timeout) {
      (void)deliver(*record, SIGKILL);
      member.killed = true;
    }
  }
}

void Supervision::stopSandbox() {
  if (!sandbox_) return;
  (void)deliver(*sandbox_, SIGTERM);
  auto ended = awaitEnd(*sandbox_, plan_.stopTimeout);
  if (!ended || !*ended) {
    (void)deliver(*sandbox_, SIGKILL);
    (void)awaitEnd(*sandbox_, std::nullopt);
  }
}

void Supervision::reapMonitors() {
  std::erase_if(monitors_, [](pid_t pid) { return ::waitpid(pid, nullptr, WNOHANG) == pid; });
}

bool Supervision::userAskedToStop(int signals) {
  pollfd fd{signals, POLLIN, 0};
  if (::poll(&fd, 1, static_cast<int>(kTick.count())) > 0) {
    signalfd_siginfo info{};
    if (::read(signals, &info, sizeof info) == sizeof info) {
      int signal = static_cast<int>(info.ssi_signo);
      if (signal == SIGTERM || signal == SIGINT || signal == SIGHUP) return true;
    }
  }
  auto requested = tasks_->stopRequested(plan_.record.id);
  return requested && *requested;
}

TaskReport Supervision::run(int signals) {
  if (auto started = startSandbox(); !started) {
    stopSandbox();
    (void)tasks_->finish(plan_.record.id, kExitRuntimeError, started.error().describe());
    return {.kind = TaskReport::Kind::kEnded,
            .exitCode = kExitRuntimeError,
            .message = started.error().describe()};
  }
  bool told = false;
  std::optional<std::string> stopReason;
  std::optional<int> exitCode;
  std::optional<Clock::time_point> stopBegan;
  for (;;) {
    observe();
    std::vector<ContainerStatus> statuses;
    for (const Member& member : members_) statuses.push_back(member.status);
    TaskStep step = nextStep(plan_.definition, statuses);
    if (step.stop && !stopReason) {
      stopReason = step.stop;
      exitCode = step.exitCode;
    }
    if (step.over) break;
    // Stopping, a container that never started never will: the task is over once none runs.
    bool anyRunning = std::any_of(members_.begin(), members_.end(), [](const Member& member) {
      return member.status.phase == ContainerPhase::kRunning;
    });
    if (stopReason && !anyRunning) break;
    if (stopReason) {
      if (!stopBegan) {
        spdlog::info("task {} stops: {}", plan_.record.id.substr(0, 12), *stopReason);
        stopBegan = Clock::now();
      }
      stopMembers(*stopBegan);
    } else {
      for (std::size_t index : step.start) startMember(index);
      if (!told && !step.start.empty()) continue;  // observe them before saying it runs
      if (!told) {
        send(reports_, {.kind = TaskReport::Kind::kRunning});
        told = true;
      }
      runChecks();
    }
    reapMonitors();
    if (userAskedToStop(signals) && !stopReason) stopReason = "stopped by a user";
  }
  stopSandbox();
  for (const Member& member : members_) {
    if (member.check) ::kill(member.check->pid, SIGKILL);
  }
  std::vector<ContainerStatus> statuses;
  for (const Member& member : members_) statuses.push_back(member.status);
  int code = exitCode.value_or(taskExitCode(plan_.definition, statuses));
  std::string reason = stopReason.value_or("every container exited");
  (void)tasks_->finish(plan_.record.id, code, reason);
  return {.kind = TaskReport::Kind::kEnded, .exitCode = code, .message = reason};
}

[[noreturn]] void runSupervisor(int reports, const TaskPlan& plan, IsolationBackend& backend) {
  // Out of the caller's session: a terminal's signals reach the caller, which passes them on.
  ::setsid();
  ::prctl(PR_SET_NAME, "tandem-task", 0, 0, 0);
  auto endEarly = [&](const Error& error) {
    send(reports, {.kind = TaskReport::Kind::kEnded,
                   .exitCode = kExitRuntimeError,
                   .message = error.describe()});
    ::_exit(kExitRuntimeError);
  };
  // Off the caller's terminal and pipes, which may close when it leaves (task run -d under
  // $(...)); what the supervisor logs goes to the task's log.
  if (auto log = detachOutputTo(taskLogPath(plan.stateRoot, plan.record.id)); !log) {
    endEarly(log.error());
  }
  auto tasks = TaskStore::open(plan.stateRoot);
  if (!tasks) endEarly(tasks.error());
  if (auto begun = tasks->begin(plan.record); !begun) endEarly(begun.error());
  auto workloads = WorkloadStore::open(plan.stateRoot);
  if (!workloads) {
    (void)tasks->finish(plan.record.id, kExitRuntimeError, workloads.error().describe());
    endEarly(workloads.error());
  }
  sigset_t passedOn = signalsPassedOn();
  UniqueFd signals(::signalfd(-1, &passedOn, SFD_CLOEXEC));
  if (!signals) {
    Error error = Error::fromErrno("cannot create the task supervisor's signalfd");
    (void)tasks->finish(plan.record.id, kExitRuntimeError, error.describe());
    endEarly(error);
  }
  Supervision supervision(plan, backend, std::move(tasks).value(), std::move(workloads).value(),
                          reports);
  TaskReport ended = supervision.run(signals.get());
  send(reports, ended);
  ::_exit(0);
}

}  // namespace

std::string taskLogPath(const std::string& stateRoot, const std::string& taskId) {
  return stateRoot + "/tasks/" + taskId + ".log";
}

Result<TaskSupervisor> TaskSupervisor::start(const TaskPlan& plan, IsolationBackend& backend) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return Error::fromErrno("cannot create the socket the task's supervisor reports on");
  }
  UniqueFd ours(pair[0]);
  UniqueFd theirs(pair[1]);
  pid_t pid = ::fork();
  if (pid < 0) {
    return Error::fromErrno("cannot start the task's supervisor");
  }
  if (pid == 0) {
    ours.reset();
    runSupervisor(theirs.get(), plan, backend);
  }
  return TaskSupervisor(pid, std::move(ours));
}

Result<TaskReport> TaskSupervisor::nextReport(int signalFd) {
  TANDEM_ASSIGN_OR_RETURN(std::optional<std::string> text,
                          awaitReport(reports_.get(), signalFd, pid_, "the task's supervisor"));
  if (!text) {
    return Error("the task's supervisor (process " + std::to_string(pid_) +
                     ") ended without saying how the task did; see tandem task ps -a",
                 EPIPE);
  }
  return parseReport(*text);
}

}  // namespace tandem::scheduler

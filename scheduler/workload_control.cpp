#include "scheduler/workload_control.h"

#include <signal.h>
#include <string.h>

#include "common/process_identity.h"
#include "scheduler/workload_monitor.h"

namespace tandem::scheduler {

Status notRunning(const WorkloadRecord& record) {
  return Error(
      "workload " + record.id.substr(0, 12) + " is not running (" + toString(record.state) + ")",
      ESRCH);
}

Status deliver(const WorkloadRecord& record, int signal) {
  sigset_t passedOn = signalsPassedOn();
  bool viaMonitor = sigismember(&passedOn, signal) == 1;
  bool vmTakes = signal == SIGINT || signal == SIGTERM || signal == SIGHUP || signal == SIGKILL;
  if (record.isolation == Isolation::kVm && !vmTakes) {
    return Error(std::string("a microVM takes SIGINT, SIGTERM, SIGHUP (each ends it) or SIGKILL, "
                             "not SIG") +
                     ::sigabbrev_np(signal),
                 EINVAL);
  }
  pid_t target = viaMonitor ? record.ownerPid : record.workloadPid;
  std::uint64_t start = viaMonitor ? record.ownerStart : record.workloadStart;
  if (target == 0) {
    return Error("workload " + record.id.substr(0, 12) + " is still starting; try again", EAGAIN);
  }
  auto process = openProcess(target, start);
  if (!process) {
    return process.error().errnum() == ESRCH ? notRunning(record) : Status(process.error());
  }
  return signalProcess(process->get(), signal);
}

Result<bool> awaitEnd(const WorkloadRecord& record,
                      std::optional<std::chrono::milliseconds> timeout) {
  auto monitor = openProcess(record.ownerPid, record.ownerStart);
  if (!monitor) {
    if (monitor.error().errnum() == ESRCH) return true;
    return monitor.error();
  }
  return waitProcessEnd(monitor->get(), timeout);
}

}  // namespace tandem::scheduler

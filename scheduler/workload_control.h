// Acting on a running workload from another tandem process, through the state store's record
// of its monitor and its process: the signals of tandem kill and stop, and waiting for its end.
#pragma once

#include <chrono>
#include <optional>

#include "common/result.h"
#include "scheduler/workload_store.h"

namespace tandem::scheduler {

// ESRCH, naming the workload and its state.
Status notRunning(const WorkloadRecord& record);

// Delivers `signal` to a running workload. The signals an attached tandem passes on go to the
// monitor, which passes them on as its backend does (a microVM's monitor ends the VM with them);
// the rest go straight to the workload's process, which for a microVM is tandem-vmm, where only
// SIGKILL means anything.
Status deliver(const WorkloadRecord& record, int signal);

// Waits for the workload's monitor to end, at most `timeout` (nullopt: no limit); true when it
// did.
Result<bool> awaitEnd(const WorkloadRecord& record,
                      std::optional<std::chrono::milliseconds> timeout);

}  // namespace tandem::scheduler

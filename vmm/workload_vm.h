// Runs one workload in a microVM inside this process: what tandem-vmm, the monitor process
// that tandem starts for --isolation vm, does. The workload's rootfs folder (or a prebuilt
// initramfs) becomes the guest's initramfs, tandem's guest init and the workload description are
// appended to it, and the guest kernel boots it. With a root disk instead, the initramfs holds
// only tandem's part, and the init mounts /dev/vda as the root.
#pragma once

#include <chrono>

#include <nlohmann/json.hpp>

#include "common/isolation_backend.h"
#include "common/result.h"
#include "common/workload.h"
#include "vmm/vm_backend.h"

namespace tandem::vmm {

struct VmRun {
  Result<WorkloadOutcome> outcome;
  // Boot timeline, exits and VMM memory when VmBackendConfig::stats asked for them, else null.
  nlohmann::json stats;
};

// A microVM's vCPUs: its CPU limit rounded up, one without a limit.
unsigned vcpuCount(const Workload& workload);

// `startedAt` is when tandem started, the origin of the stats' timeline; the monitor dies with
// the process open as `parentPidfd` (-1: none).
VmRun runWorkloadVm(const VmBackendConfig& config, const Workload& workload,
                    std::chrono::steady_clock::time_point startedAt, int parentPidfd = -1);

}  // namespace tandem::vmm

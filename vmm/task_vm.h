// A task whose isolation unit is one microVM, as Fargate runs a task. The task's sandbox is a
// microVM: tandem-pause is its guest's workload, the task's network its network, and each of
// the task's images' disks is attached to it read-only. Each of the task's containers is then a
// workload of its own, with its own monitor, that runs inside that microVM through the guest
// agent, as a container of the guest's (tools/guest-init/guest_container.h). Such a container
// names the sandbox as its network peer, as the containers of a container-level task name
// theirs, which is what tells the microVM backend to run it there rather than boot a microVM.
#pragma once

#include <string>

#include "common/isolation_backend.h"
#include "common/result.h"
#include "common/volume.h"
#include "common/workload.h"
#include "vmm/vm_backend.h"

namespace tandem::vmm {

// A microVM-level workload that joins another microVM's network: a container of a task's
// microVM.
bool runsInTaskVm(const Workload& workload);

// Where the task's microVM mounts an image's disk, the host file `diskPath`: a path of its own
// per disk, so that containers of one image share one read-only mount.
std::string guestImageMount(const std::string& diskPath);

// That disk as the sandbox's read-only volume at guestImageMount(diskPath).
Volume imageDiskVolume(const std::string& diskPath);

// Runs `workload` (runsInTaskVm) in its task's microVM and returns how it ended. A relay process
// of tandem's holds the agent session: it is the workload's process on the host, and `started`
// gets it once the container runs in the guest (not at all when it never does). SIGINT, SIGTERM and SIGHUP sent to this process or the relay reach the container's
// first process; SIGKILL of the relay ends the session, and the guest kills the container.
// The task's microVM may still be booting: the relay waits for its agent, at most
// kTaskVmBootTimeout.
Result<WorkloadOutcome> runInTaskVm(const VmBackendConfig& config, const Workload& workload,
                                    const IsolationBackend::StartedCallback& started);

inline constexpr std::chrono::seconds kTaskVmBootTimeout{120};

// What such a container uses now, from its cgroup in the guest, as its task's microVM's agent
// reads it.
Result<ResourceUsage> taskContainerUsage(const VmBackendConfig& config, const Workload& workload);

}  // namespace tandem::vmm

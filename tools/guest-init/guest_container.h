// A task's container inside its microVM, as the guest agent runs it (agent.h, kRunContainer):
// the task's containers share the guest's network, as they share a network namespace at
// container level, and each gets the rest of a container of its own:
// - a cgroup (v2) with its memory, CPU and pids limits, the container runtime's arithmetic
//   (container/cgroup_limits.h);
// - mount, PID, UTS, IPC and cgroup namespaces, its cgroup's files read-only in
//   /sys/fs/cgroup;
// - a root that is its image's disk, mounted read-only by init, under an overlay whose writable
//   layer is a tmpfs of its own, gone with the container; with /proc, /sys and a small /dev.
// The microVM is the task's isolation boundary, as in Fargate: these keep containers apart from
// each other, not from a hostile neighbour. The root is entered as switch_root does (moved onto
// / and chrooted), because pivot_root cannot leave the initramfs the guest runs from.
#pragma once

#include <string>

#include "common/result.h"
#include "common/workload.h"
#include "vmm/agent_protocol.h"

namespace tandem::guest_init {

// Ids name paths in the guest: tandem's ids (hex digits), nothing that could climb out.
Status checkContainerId(const std::string& id);

// The container's cgroup, and the file holding its first process's pid while it runs.
std::string containerCgroup(const std::string& id);
std::string containerPidFile(const std::string& id);

// overlayfs's mount options for a root of `lower` under the writable `upper`.
std::string overlayOptions(const std::string& lower, const std::string& upper,
                           const std::string& work);

// What the session that runs a container sets up before forking its first process, and takes
// down after it ended. Not copyable: it owns the cgroup and the pid file.
class GuestContainer {
 public:
  // In the calling (session) process: the cgroup with the limits, joined; new mount, UTS, IPC
  // namespaces for this process and a new PID namespace for its next child; the root mounted.
  static Result<GuestContainer> prepare(const Workload& workload);

  GuestContainer(GuestContainer&& other) noexcept;
  GuestContainer& operator=(GuestContainer&&) = delete;
  ~GuestContainer();

  // In the first process, PID 1 of the new namespace, before it execs: the kernel
  // filesystems, the root entered, the hostname.
  Status enter(const Workload& workload) const;

  // Records the first process, so that exec can find the container.
  Status started(pid_t pid) const;

 private:
  GuestContainer(std::string id, std::string folder)
      : id_(std::move(id)), folder_(std::move(folder)) {}

  std::string id_;      // empty once moved from
  std::string folder_;  // its tmpfs: the writable layer, and the root mounted at root/
};

// What running container `id` uses now, from its cgroup (kUsageRequest).
Result<guest::ContainerUsage> containerUsage(const std::string& id);

// For kContainerExec, in the session process: joins the running container `id` (its cgroup,
// namespaces and root), so that the next child forked runs inside it.
Status joinContainer(const std::string& id);

}  // namespace tandem::guest_init

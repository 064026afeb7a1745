#include "container/runtime.h"

#include <limits.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/cgroup.h"
#include "common/child_process.h"
#include "common/fd_passing.h"
#include "common/file.h"
#include "common/log.h"
#include "common/port_forwarder.h"
#include "common/program_launch.h"
#include "common/state_directory.h"
#include "container/bridge_link.h"
#include "common/capabilities.h"
#include "container/child_report.h"
#include "container/console_proxy.h"
#include "container/container_process.h"
#include "container/janitor.h"
#include "container/layer_disk.h"
#include "container/seccomp_cache.h"
#include "container/start_timeline.h"
#include "container/volume_mounts.h"

namespace tandem::container {

namespace {

// As a microVM's --stats: one JSON object on stderr when the workload has ended.
void printStartStats(const StartTimeline& timeline) {
  nlohmann::ordered_json stats = startStatsJson(timeline);
  if (stats.is_null()) {
    spdlog::warn("--stats: the container process sent no start milestones");
    return;
  }
  std::cerr << stats.dump(2) << "\n";
}

Result<std::string> resolveRootfs(const std::string& rootfs) {
  if (rootfs.empty()) {
    return Error("no root filesystem given; pass an image or --rootfs DIR");
  }
  char resolved[PATH_MAX];
  if (::realpath(rootfs.c_str(), resolved) == nullptr) {
    return Error::fromErrno("rootfs " + rootfs + " is not usable");
  }
  if (!isDirectory(resolved)) {
    return Error("rootfs " + rootfs + " is not a directory");
  }
  return std::string(resolved);
}

// The lowest overlay layer: empty mount points a minimal rootfs may lack, so that /proc, /sys
// and /dev can be mounted even on a read-only root without touching the user's folder.
Result<std::string> ensureSkeleton(const std::string& stateRoot) {
  std::string skeleton = stateRoot + "/skeleton";
  for (const char* dir : {"/proc", "/sys", "/dev"}) {
    TANDEM_TRY(makeDirectories(skeleton + dir, 0755));
  }
  TANDEM_TRY(makeDirectories(skeleton + "/tmp", 01777));
  return skeleton;
}

Status writeIdMap(pid_t pid, const char* file, const std::vector<IdMapping>& mappings) {
  std::string content;
  for (const auto& m : mappings) {
    content += std::to_string(m.containerId) + " " + std::to_string(m.hostId) + " " +
               std::to_string(m.count) + "\n";
  }
  std::string path = "/proc/" + std::to_string(pid) + "/" + file;
  if (auto status = writeExistingFile(path, content); !status) {
    return std::move(status).error().context("cannot write the user namespace's " +
                                             std::string(file));
  }
  return okStatus();
}

// The host uid that container uid `id` maps to, for files the runtime creates on its behalf.
std::uint32_t hostIdFor(const std::vector<IdMapping>& mappings, std::uint32_t id) {
  for (const auto& m : mappings) {
    if (id >= m.containerId && id - m.containerId < m.count) {
      return m.hostId + (id - m.containerId);
    }
  }
  return id;
}

Status recordFinalState(const std::string& stateDir, const WorkloadOutcome& outcome) {
  nlohmann::json state = {
      {"id", outcome.id},
      {"exitCode", outcome.exitCode()},
      {"oomKilled", outcome.oomKilled},
      {"signal", outcome.status.signaled ? outcome.status.signal : 0},
      {"finishedAt", static_cast<long long>(::time(nullptr))},
  };
  if (!outcome.launchError.empty()) {
    state["error"] = outcome.launchError;
  }
  return writeFile(stateDir + "/state.json", state.dump(2) + "\n");
}

// The writable layer, the overlay's work dir and mount point, and the recorded config. A
// size-limited layer holds the first two in its own filesystem (layer_disk.h), already made.
Status prepareStateDirectory(const Workload& workload, const RootfsLayout& rootfs,
                             const std::string& stateDir) {
  if (!rootfs.layerDisk.empty()) {
    TANDEM_TRY(makeDirectories(rootfs.layerDisk, 0755));
    TANDEM_TRY(makeDirectories(rootfs.merged, 0755));
  } else {
    for (const auto& dir : {rootfs.upper, rootfs.work, rootfs.merged}) {
      TANDEM_TRY(makeDirectories(dir, 0755));
    }
  }
  if (!workload.uidMappings.empty() && rootfs.layerDisk.empty()) {
    uid_t rootUid = hostIdFor(workload.uidMappings, 0);
    gid_t rootGid = hostIdFor(workload.gidMappings, 0);
    for (const auto& dir : {rootfs.upper, rootfs.work}) {
      if (::chown(dir.c_str(), rootUid, rootGid) != 0) {
        return Error::fromErrno("cannot hand " + dir + " to the user namespace's root");
      }
    }
  }
  TANDEM_TRY(writeFile(stateDir + "/config.json", toJson(workload).dump(2) + "\n"));
  spdlog::debug("state directory {} ready", stateDir);
  return okStatus();
}

// The parent's half of the start, done while the container process re-executes from its sealed
// copy and builds its root filesystem on the other core: id maps, the state directory, the
// cgroup, then "go". Returns the pty master with --tty.
Result<UniqueFd> admitContainerProcess(const ContainerProcessConfig& child, pid_t pid,
                                       int syncSocket, const UniqueFd& layerMount,
                                       const std::vector<UniqueFd>& diskMounts,
                                       const std::string& stateDir, const CgroupMounts& mounts,
                                       std::optional<Cgroup>& cgroup, StartTimeline& timeline) {
  const Workload& workload = child.workload;
  auto say = [&](char byte) -> Status {
    // MSG_NOSIGNAL: a container process that failed and exited must cost an EPIPE here, to
    // report its own error, not a SIGPIPE that kills tandem.
    if (::send(syncSocket, &byte, 1, MSG_NOSIGNAL) != 1) {
      return Error::fromErrno("cannot signal the container's process");
    }
    return okStatus();
  };
  if (!workload.uidMappings.empty()) {
    TANDEM_TRY(writeIdMap(pid, "uid_map", workload.uidMappings));
    TANDEM_TRY(writeIdMap(pid, "gid_map", workload.gidMappings));
    TANDEM_TRY(say(kSyncMapsWritten));
  }
  // Serialised here, on the runtime's core, while the container process re-executes.
  TANDEM_TRY(sendConfig(syncSocket, child));
  if (layerMount) {
    TANDEM_TRY(sendFd(syncSocket, layerMount.get()));
  }
  for (const UniqueFd& mount : diskMounts) {
    TANDEM_TRY(sendFd(syncSocket, mount.get()));
  }
  TANDEM_TRY(prepareStateDirectory(workload, child.rootfs, stateDir));
  TANDEM_TRY(say(kSyncStateReady));
  timeline.cgroupStarted = monotonicNs();
  TANDEM_ASSIGN_OR_RETURN(cgroup, Cgroup::create(mounts, workload.id, workload.limits));
  TANDEM_TRY(cgroup->addProcess(pid));
  timeline.cgroupDone = monotonicNs();
  TANDEM_TRY(say(kSyncInCgroup));
  if (!workload.tty) {
    return UniqueFd();
  }
  return receiveFd(syncSocket);
}

}  // namespace

Result<WorkloadOutcome> runContainer(Workload workload, const RuntimeConfig& config,
                                     const IsolationBackend::StartedCallback& started) {
  StartTimeline timeline{.origin = monotonicNs()};
  TANDEM_TRY(validate(workload));
  TANDEM_TRY(checkVolumes(workload.volumes, !workload.uidMappings.empty()));
  TANDEM_ASSIGN_OR_RETURN(std::vector<UniqueFd> diskMounts, mountDiskVolumes(workload.volumes));
  std::vector<std::string> lowerLayers;
  if (workload.rootfsLayers.empty()) {
    TANDEM_ASSIGN_OR_RETURN(workload.rootfs, resolveRootfs(workload.rootfs));
    lowerLayers.push_back(workload.rootfs);
  } else {
    for (const auto& layer : workload.rootfsLayers) {
      TANDEM_ASSIGN_OR_RETURN(std::string resolved, resolveRootfs(layer));
      lowerLayers.insert(lowerLayers.begin(), resolved);
    }
  }
  TANDEM_ASSIGN_OR_RETURN(auto capabilities,
                          resolveCapabilities(workload.capAdd, workload.capDrop));
  std::vector<sock_filter> seccompProgram;
  if (workload.seccomp) {
    TANDEM_ASSIGN_OR_RETURN(seccompProgram,
                            cachedSeccompProgram(config.stateRoot + "/cache", capabilities));
  }
  TANDEM_ASSIGN_OR_RETURN(CgroupMounts cgroupMounts, detectCgroupMounts());
  if (workload.id.empty()) {
    TANDEM_ASSIGN_OR_RETURN(workload.id, newWorkloadId());
  }
  if (workload.hostname.empty()) {
    workload.hostname = workload.id.substr(0, 12);
  }
  bool userNamespace = !workload.uidMappings.empty();
  // A network namespace of its own, unless it shares the host's or joins a peer container's
  // (which the container process enters itself, before it builds its root).
  bool ownNetwork =
      workload.network != NetworkMode::kHost && workload.network != NetworkMode::kContainer;
  bool joinsPeer = workload.network == NetworkMode::kContainer;
  // Taken before the container exists, so that a full subnet fails with nothing to undo.
  std::optional<AddressLease> lease;
  BridgeNetwork bridge = defaultBridgeNetwork(config.stateRoot);
  if (workload.network == NetworkMode::kBridge) {
    TANDEM_TRY(ensureBridge(bridge));
    TANDEM_ASSIGN_OR_RETURN(AddressLease acquired, AddressLease::acquire(bridge));
    lease.emplace(std::move(acquired));
  }
  spdlog::debug("capabilities, seccomp program and cgroup layout ready");

  TANDEM_ASSIGN_OR_RETURN(std::string skeleton, ensureSkeleton(config.stateRoot));
  std::string stateDir = config.stateRoot + "/containers/" + workload.id;
  StateDirectory state(stateDir);
  std::optional<Janitor> janitor;
  RootfsLayout rootfs{lowerLayers,
                      skeleton,
                      stateDir + "/upper",
                      stateDir + "/work",
                      stateDir + "/rootfs",
                      "",
                      workload.readOnlyRootfs,
                      userNamespace,
                      {ownNetwork || joinsPeer, true}};
  UniqueFd layerMount;
  if (workload.limits.storageBytes) {
    rootfs.layerDisk = stateDir + "/layer";
    rootfs.upper = rootfs.layerDisk + "/" + kLayerUpper;
    rootfs.work = rootfs.layerDisk + "/" + kLayerWork;
    TANDEM_TRY(makeDirectories(stateDir, 0700));
    TANDEM_ASSIGN_OR_RETURN(
        layerMount,
        mountLayerDisk(stateDir + "/layer.img", *workload.limits.storageBytes,
                       hostIdFor(workload.uidMappings, 0), hostIdFor(workload.gidMappings, 0)));
  }
  int sync[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) != 0) {
    return Error::fromErrno("cannot create the runtime's socket pair");
  }
  UniqueFd syncParent(sync[0]);
  UniqueFd syncChild(sync[1]);
  TANDEM_ASSIGN_OR_RETURN(Pipe errorPipe, makePipe());
  SignalBlock blocked(forwardedSignals());
  sigset_t forwarded = forwardedSignals();
  UniqueFd signals(::signalfd(-1, &forwarded, SFD_CLOEXEC));
  if (!signals) {
    return Error::fromErrno("cannot create a signalfd for the workload's signals");
  }

  std::uint64_t flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
  if (ownNetwork) flags |= CLONE_NEWNET;
  if (userNamespace) flags |= CLONE_NEWUSER;
  // The workload starts with nothing blocked, as it would under runc: what tandem blocks to
  // supervise it is tandem's own affair.
  sigset_t workloadMask;
  sigemptyset(&workloadMask);
  ContainerProcessConfig child{
      workload,    rootfs,        capabilities,    std::move(seccompProgram),
      ownNetwork,  userNamespace, syncChild.get(), errorPipe.write.get(),
      workloadMask};
  timeline.cloneStarted = monotonicNs();
  TANDEM_ASSIGN_OR_RETURN(pid_t pid, cloneProcess(flags, "the container process"));
  if (pid == 0) {
    runContainerProcess(child);
  }
  ChildGuard guard(pid);
  syncChild.reset();
  errorPipe.write.reset();
  spdlog::debug("container {} started as host pid {}", workload.id, pid);
  // Started only now, to overlap the container process's re-exec; it must exist before the state
  // directory and the cgroup do. A SIGKILL before this point finds nothing to clean up: the
  // container process dies with the runtime (its parent-death signal).
  TANDEM_ASSIGN_OR_RETURN(
      janitor, Janitor::start(cgroupMounts, workload.id, stateDir, workload.removeOnExit));

  WorkloadOutcome outcome;
  outcome.id = workload.id;
  std::optional<Cgroup> cgroup;
  Status joined = okStatus();
  if (lease) {
    joined = joinBridge(pid, hostLinkName(workload.id), lease->address(), bridge);
    spdlog::debug("container {} takes {} on {}", workload.id, lease->address().text(),
                  bridge.bridge);
  }
  // Started only now: a thread running while the container process was cloned could have held
  // a lock the clone would inherit taken.
  std::unique_ptr<PortForwarder> published;
  if (joined && lease && !workload.ports.empty()) {
    if (auto forwarder = PortForwarder::start(workload.ports, lease->address().address)) {
      published = std::move(forwarder).value();
    } else {
      joined = std::move(forwarder).error();
    }
  }
  Result<UniqueFd> master =
      joined ? admitContainerProcess(child, pid, syncParent.get(), layerMount, diskMounts, stateDir,
                                     cgroupMounts, cgroup, timeline)
             : Result<UniqueFd>(joined.error());
  spdlog::debug("cgroup {}", master ? "joined" : "failed");
  std::optional<ChildFailure> failure;
  if (master) {
    // Blocks until the workload's exec closes the pipe, or a failure record arrives.
    failure = readChildFailure(errorPipe.read.get());
  }
  if (!master || failure) {
    // Whatever went wrong, the container process's own account is the more precise one.
    ::kill(pid, SIGKILL);
    TANDEM_ASSIGN_OR_RETURN(outcome.status, waitForExit(pid));
    guard.reaped();
    if (!failure) {
      failure = readChildFailure(errorPipe.read.get());
    }
    if (!failure) {
      return master.error();
    }
    if (failure->exitCode == kExitRuntimeError) {
      return Error(failure->message);
    }
    outcome.status = ExitStatus{false, failure->exitCode, 0};
    outcome.launchError = failure->message;
  } else {
    timeline.execSeen = monotonicNs();
    spdlog::debug("workload running");
    if (started) started(pid);
    TANDEM_ASSIGN_OR_RETURN(outcome.status,
                            superviseWorkload(pid, signals.get(), std::move(master).value()));
    guard.reaped();
    timeline.exited = monotonicNs();
    if (config.stats) {
      // Sent before the exec, they wait in the sync socket until --stats asks for them.
      timeline.child = receiveChildMilestones(syncParent.get());
      printStartStats(timeline);
    }
    spdlog::debug("workload {}", outcome.status.describe());
    auto oom = cgroup->oomKilled();
    outcome.oomKilled = oom && *oom;
  }
  if (cgroup) {
    TANDEM_TRY(cgroup->remove());
    spdlog::debug("cgroup removed");
  }
  if (!workload.removeOnExit) {
    TANDEM_TRY(recordFinalState(stateDir, outcome));
    state.keep();
  }
  janitor->dismiss();
  return outcome;
}

}  // namespace tandem::container

namespace tandem::container {

Status ContainerBackend::cleanUpAfter(const std::string& id) {
  TANDEM_ASSIGN_OR_RETURN(CgroupMounts mounts, detectCgroupMounts());
  // Only the directories that exist: none, when the janitor did its work.
  Cgroup leftover = Cgroup::adopt(mounts, id);
  return leftover.remove().context("removing the cgroup of lost container " + id);
}

Result<ResourceUsage> ContainerBackend::usage(const std::string& id, pid_t) const {
  TANDEM_ASSIGN_OR_RETURN(CgroupMounts mounts, detectCgroupMounts());
  Cgroup cgroup = Cgroup::adopt(mounts, id);
  if (cgroup.directories().empty()) {
    return Error("container " + id.substr(0, 12) + " has no cgroup; it is not running", ESRCH);
  }
  auto measured = cgroup.usage();
  // Only read here: the container's runtime owns the cgroup and removes it.
  cgroup.release();
  TANDEM_ASSIGN_OR_RETURN(CgroupUsage cgroupUsage, std::move(measured));
  ResourceUsage usage{.cpuNanos = cgroupUsage.cpuMicros * 1000,
                      .memoryBytes = cgroupUsage.memoryBytes,
                      .processes = cgroupUsage.pids};
  if (auto recorded = readWorkloadConfig(config_.stateRoot + "/containers/" + id)) {
    usage.memoryLimitBytes = recorded->limits.memoryBytes.value_or(0);
  }
  return usage;
}

Status ContainerBackend::available() const {
  if (::geteuid() != 0) {
    return Error(
        "container isolation needs root on this host (rootless mode is not built yet); "
        "run tandem as root");
  }
  return detectCgroupMounts().ok() ? okStatus()
                                   : Error("container isolation needs a mounted cgroup filesystem");
}

}  // namespace tandem::container

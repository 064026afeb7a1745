#include "vmm/vm_backend.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

#include <nlohmann/json.hpp>

#include "common/bridge_network.h"
#include "common/cgroup.h"
#include "common/child_process.h"
#include "common/file.h"
#include "common/log.h"
#include "common/port_forwarder.h"
#include "common/process.h"
#include "common/process_identity.h"
#include "common/program_launch.h"
#include "common/state_directory.h"
#include "vmm/host_virtualization.h"
#include "vmm/kvm.h"
#include "vmm/process_memory.h"
#include "vmm/task_vm.h"
#include "vmm/vmm_invocation.h"
#include "vmm/volume_drives.h"
#include "vmm/workload_vm.h"

namespace tandem::vmm {
namespace {

std::string cacheDirectory() {
  const char* cache = std::getenv("TANDEM_CACHE");
  return cache != nullptr && *cache != '\0' ? cache : "/var/cache/tandem";
}

std::string vmmProgramPath() {
  return companionProgramPath("TANDEM_VMM", "tandem-vmm", "vmm");
}

Result<UniqueFd> memoryFile(const char* name, std::string_view content) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd) {
    return Error::fromErrno(std::string("cannot create the memory file ") + name);
  }
  TANDEM_TRY(writeAll(fd.get(), content, name));
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) {
    return Error::fromErrno(std::string("cannot rewind the memory file ") + name);
  }
  return fd;
}

// The signals tandem passes on to its VMM; SIGCHLD tells it that the VMM ended.
sigset_t supervisedSignals() {
  return signalSet({SIGINT, SIGTERM, SIGHUP, SIGCHLD});
}

// Adds what the supervising tandem costs to the VMM's own figures, so that a reader of --stats
// sees both processes.
void printStats(nlohmann::json stats) {
  if (auto own = ownMemoryOutside(0, 0); own) {
    stats["supervisor_memory"] = {{"rss_bytes", own->rssBytes}, {"pss_bytes", own->pssBytes}};
  }
  std::cerr << stats.dump(2) << "\n";
}

// Every microVM gets vms/<id> under the state root: its config, the socket of its vsock (where
// `tandem exec` reaches the guest agent) and, booting from an image's disk, the layer its root
// disk writes into, so that writes never reach the image's disk, which every workload of that
// image shares. A read-only rootfs needs no layer: the disk itself is read-only.
Result<std::string> prepareStateDirectory(Workload& workload, const std::string& stateRoot,
                                          std::optional<StateDirectory>& state) {
  if (workload.id.empty()) {
    TANDEM_ASSIGN_OR_RETURN(workload.id, newWorkloadId());
  }
  std::string directory = vmStateDirectory(stateRoot, workload.id);
  if (pathExists(directory)) {
    // Its own folder from an earlier run is the workload's to reuse: its monitor restarts it,
    // and its root disk's layer carries over, as a container's writable layer does.
    auto earlier = readWorkloadConfig(directory);
    if (!earlier || earlier->id != workload.id) {
      return Error("the state of a microVM " + workload.id + " already exists in " + directory +
                       "; give another id or remove that folder",
                   EEXIST);
    }
    // The earlier VM is gone, but a tandem-vmm killed outright leaves its sockets behind.
    TANDEM_TRY(removeTree(directory + "/vsock"));
  } else {
    TANDEM_TRY(makeDirectories(directory, 0700));
  }
  state.emplace(directory);
  TANDEM_TRY(writeFile(directory + "/config.json", toJson(workload).dump(2) + "\n"));
  return directory;
}

// What tandem-vmm's own cgroup holds it to, as Firecracker's jailer gives the VMM a cgroup: a
// thread per vCPU and a few more tasks, and the workload's CPU limits. Its memory is counted but
// not capped: the guest's is fixed by its size already, and a cap would count the page cache of
// its disks too (all of a disk kept on a tmpfs), making a large write an OOM kill instead of I/O.
constexpr std::int64_t kVmmExtraTasks = 8;

ResourceLimits vmmLimits(const Workload& workload) {
  ResourceLimits limits = workload.limits;
  limits.memoryBytes.reset();
  limits.memorySwapBytes.reset();
  limits.pidsLimit = static_cast<std::int64_t>(vcpuCount(workload)) + kVmmExtraTasks;
  limits.storageBytes.reset();
  return limits;
}

// The devices tandem-vmm opens, and the harmless ones every process may.
const std::vector<DeviceRule>& vmmDevices() {
  static const std::vector<DeviceRule> devices = {
      {'c', 10, 232, "rw"},  // /dev/kvm
      {'c', 10, 200, "rw"},  // /dev/net/tun
      {'c', 1, 3, "rw"},     // /dev/null
      {'c', 1, 5, "rw"},     // /dev/zero
      {'c', 1, 8, "r"},      // /dev/random
      {'c', 1, 9, "r"},      // /dev/urandom
  };
  return devices;
}

bool ownsCgroup(const VmBackendConfig& config) {
  return config.ownCgroup && ::geteuid() == 0;
}

// The folder of the vsock's sockets, made anew for each run: a jailed monitor's user owns it,
// so that it can reach and remove the sockets it made there once it is no longer root.
Status prepareSocketFolder(const std::string& socket, const std::optional<JailUser>& jail) {
  std::string folder = socket.substr(0, socket.rfind('/'));
  TANDEM_TRY(makeDirectories(folder, 0700));
  if (jail && ::chown(folder.c_str(), jail->uid, jail->gid) != 0) {
    return Error::fromErrno("cannot hand " + folder + " to the microVM monitor's user " +
                            jailUserText(*jail));
  }
  return okStatus();
}

}  // namespace

std::string vmStateDirectory(const std::string& stateRoot, const std::string& id) {
  return stateRoot + "/vms/" + id;
}

std::string vsockSocketPath(const std::string& stateRoot, const std::string& id) {
  return vmStateDirectory(stateRoot, id) + "/vsock/vsock.sock";
}

std::string defaultGuestKernel() {
  if (const char* path = std::getenv("TANDEM_GUEST_KERNEL"); path != nullptr && *path != '\0') {
    return path;
  }
  return cacheDirectory() + "/guest-kernel/current/bzImage";
}

std::string defaultVmlinuxCache() {
  return cacheDirectory() + "/vmlinux";
}

std::string defaultGuestInit() {
  return companionProgramPath("TANDEM_GUEST_INIT", "tandem-guest-init", "guest-init");
}

Status VmBackend::available() const {
  if (auto kvm = Kvm::open(config_.kvmPath); !kvm) {
    // No errno on the result: the reason is spelled out once, with the way forward.
    return Error("microVMs need " + config_.kvmPath + ", which this machine does not offer (" +
                 std::strerror(kvm.error().errnum()) +
                 "); to try them on a machine without KVM, run tandem inside the emulated KVM "
                 "host: tools/kvm-host/tandem-kvm-host --include $(command -v tandem) -- tandem "
                 "run --isolation vm ...");
  }
  if (auto hardware = checkHardwareVirtualization(); !hardware) {
    return Error(hardware.error().message() +
                 "; to try microVMs on this machine, run tandem inside the emulated KVM host: "
                 "tools/kvm-host/tandem-kvm-host --include $(command -v tandem) -- tandem run "
                 "--isolation vm ...");
  }
  if (!pathExists(config_.kernelPath)) {
    return Error("no guest kernel at " + config_.kernelPath +
                     "; build one with guest-kernel-config/build.sh, or pass --kernel",
                 ENOENT);
  }
  if (!pathExists(config_.guestInitPath)) {
    return Error("no guest init at " + config_.guestInitPath +
                     " (tandem-guest-init is built and installed with tandem; or set "
                     "TANDEM_GUEST_INIT)",
                 ENOENT);
  }
  if (std::string vmm = vmmProgramPath(); ::access(vmm.c_str(), X_OK) != 0) {
    return Error::fromErrno("cannot run " + vmm +
                            ", tandem's microVM monitor (tandem-vmm is built and installed with "
                            "tandem; or set TANDEM_VMM)");
  }
  return okStatus();
}

Status VmBackend::cleanUpAfter(const std::string& id) {
  if (auto reclaimed = reclaimStaleLeases(defaultBridgeNetwork(config_.stateRoot)); !reclaimed) {
    return std::move(reclaimed).error().context("releasing the address of lost microVM " + id);
  }
  if (ownsCgroup(config_)) {
    TANDEM_ASSIGN_OR_RETURN(CgroupMounts mounts, detectCgroupMounts());
    Cgroup left = Cgroup::adopt(mounts, id);
    TANDEM_TRY(left.remove().context("removing the cgroup of lost microVM " + id));
  }
  return okStatus();
}

Result<ResourceUsage> VmBackend::usage(const std::string& id, pid_t workloadPid) const {
  // A task's container in its microVM: its cgroup in the guest, not its relay on the host.
  if (auto recorded = readWorkloadConfig(vmStateDirectory(config_.stateRoot, id));
      recorded && runsInTaskVm(*recorded)) {
    return taskContainerUsage(config_, *recorded);
  }
  TANDEM_ASSIGN_OR_RETURN(ProcessUsage process, processUsage(workloadPid));
  ResourceUsage usage{.cpuNanos = process.cpuNanos, .memoryBytes = process.rssBytes};
  auto recorded = readWorkloadConfig(vmStateDirectory(config_.stateRoot, id));
  usage.memoryLimitBytes =
      recorded ? recorded->limits.memoryBytes.value_or(kDefaultVmMemory) : kDefaultVmMemory;
  return usage;
}

// The VM runs in tandem-vmm, a process that holds the monitor's code and nothing else: its
// memory is the monitor's overhead, and the image, registry and container code never share an
// address space with a guest. tandem supervises it: signals pass through, and a killed tandem
// takes its VMM along.
Result<WorkloadOutcome> VmBackend::run(const Workload& given, const StartedCallback& started) {
  auto startedAt = std::chrono::steady_clock::now();
  Workload workload = given;
  VmBackendConfig config = config_;
  std::optional<StateDirectory> state;
  TANDEM_ASSIGN_OR_RETURN(std::string directory,
                          prepareStateDirectory(workload, config.stateRoot, state));
  if (runsInTaskVm(workload)) {
    return runInTaskVm(config, workload, started);
  }
  config.vsockSocket = vsockSocketPath(config.stateRoot, workload.id);
  if (::geteuid() == 0) {
    config.jail = jailUserFor(workload.id);
  }
  TANDEM_TRY(prepareSocketFolder(config.vsockSocket, config.jail));
  TANDEM_ASSIGN_OR_RETURN(FolderVolumeCopies volumeCopies,
                          FolderVolumeCopies::make(workload, directory));
  if (!workload.rootfsDisk.empty()) {
    config.rootDisk =
        DiskSpec{.path = workload.rootfsDisk,
                 .readOnly = workload.readOnlyRootfs,
                 .layerPath = workload.readOnlyRootfs ? "" : directory + "/layer.img"};
  }
  // Held until the VM is gone; its TAP goes with tandem-vmm.
  std::optional<AddressLease> lease;
  if (workload.network == NetworkMode::kBridge) {
    BridgeNetwork network = defaultBridgeNetwork(config.stateRoot);
    TANDEM_TRY(ensureBridge(network));
    TANDEM_ASSIGN_OR_RETURN(AddressLease acquired, AddressLease::acquire(network));
    lease.emplace(std::move(acquired));
    spdlog::debug("microVM {} takes {} on {}", workload.id, lease->address().text(),
                  network.bridge);
    config.nics.insert(config.nics.begin(), NicSpec{.tap = hostLinkName(workload.id),
                                                    .bridge = network.bridge,
                                                    .guestAddress = lease->address(),
                                                    .gateway = network.gateway.address});
  }
  std::unique_ptr<PortForwarder> published;
  if (!workload.ports.empty()) {
    if (!lease) {
      return Error("published ports (-p) need --network bridge", EINVAL);
    }
    TANDEM_ASSIGN_OR_RETURN(published,
                            PortForwarder::start(workload.ports, lease->address().address));
  }
  std::string program = vmmProgramPath();
  TANDEM_ASSIGN_OR_RETURN(UniqueFd description,
                          memoryFile("tandem-vmm-workload", toJson(workload).dump()));
  TANDEM_ASSIGN_OR_RETURN(UniqueFd result, memoryFile("tandem-vmm-result", ""));
  UniqueFd parent(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
  if (!parent) {
    return Error::fromErrno("cannot open a pidfd of tandem for its microVM monitor to watch");
  }
  VmmInvocation invocation{
      .config = config,
      .workloadFd = description.get(),
      .resultFd = result.get(),
      .parentPidfd = parent.get(),
      .startedAtNs =
          std::chrono::duration_cast<std::chrono::nanoseconds>(startedAt.time_since_epoch())
              .count(),
      .logLevel = std::string(spdlog::level::to_string_view(spdlog::get_level()).data())};
  std::vector<std::string> args = vmmArguments(invocation);
  args.insert(args.begin(), program);

  sigset_t supervised = supervisedSignals();
  SignalBlock blocked(supervised);
  UniqueFd signals(::signalfd(-1, &supervised, SFD_CLOEXEC));
  if (!signals) {
    return Error::fromErrno("cannot create a signalfd to pass signals on to tandem-vmm");
  }
  std::optional<Cgroup> cgroup;
  UniqueFd cgroupFolder;
  if (ownsCgroup(config)) {
    TANDEM_ASSIGN_OR_RETURN(CgroupMounts mounts, detectCgroupMounts());
    TANDEM_ASSIGN_OR_RETURN(Cgroup made,
                            Cgroup::create(mounts, workload.id, vmmLimits(workload), vmmDevices()));
    cgroup.emplace(std::move(made));
    TANDEM_ASSIGN_OR_RETURN(cgroupFolder, cgroup->openForClone());
  }
  // Stop signals stay pending until the VMM reads them: as the first process of its own pid
  // namespace, it would not see a signal from outside that it has no handler for.
  ProgramLaunch launch{.program = program,
                       .args = args,
                       .inheritedFds = {description.get(), result.get(), parent.get()},
                       .signalMask = signalSet({SIGINT, SIGTERM, SIGHUP}),
                       .namespaces = config.jail ? CLONE_NEWPID : 0u,
                       .cgroupFd = cgroupFolder ? cgroupFolder.get() : -1};
  TANDEM_ASSIGN_OR_RETURN(pid_t pid, launchProgram(launch).context("tandem's microVM monitor"));
  ChildGuard guard(pid);
  if (cgroup && !cgroupFolder) {
    TANDEM_TRY(cgroup->addProcess(pid));
  }
  if (started) started(pid);
  TANDEM_ASSIGN_OR_RETURN(ExitStatus status, waitForwardingSignals(pid, signals.get()));
  guard.reaped();
  spdlog::debug("tandem-vmm {}", status.describe());
  if (status.signaled && status.signal == SIGKILL) {
    // `tandem kill -s KILL` ends a microVM as it ends a container's process: at once, with
    // the workload's status that of a SIGKILL.
    WorkloadOutcome killed;
    killed.id = workload.id;
    killed.status = status;
    return killed;
  }

  if (::lseek(result.get(), 0, SEEK_SET) != 0) {
    return Error::fromErrno("cannot rewind tandem-vmm's result");
  }
  TANDEM_ASSIGN_OR_RETURN(std::string text, readFile(result.get(), "tandem-vmm's result"));
  if (text.empty()) {
    // Its own message, if it could write one, is already on stderr.
    return Error(program + " " + status.describe() + " before it reported how the microVM ended",
                 EIO);
  }
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  TANDEM_ASSIGN_OR_RETURN(VmRun run, vmRunFromJson(json));
  if (!run.stats.is_null()) {
    printStats(std::move(run.stats));
  }
  // What a finished microVM leaves is its root disk's layer, kept as a container's is.
  if (run.outcome && !workload.rootfsDisk.empty() && !workload.removeOnExit) {
    state->keep();
  }
  return std::move(run.outcome);
}

}  // namespace tandem::vmm

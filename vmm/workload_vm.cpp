#include "vmm/workload_vm.h"

#include <malloc.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/guest_protocol.h"
#include "vmm/machine.h"
#include "vmm/volume_drives.h"
#include "vmm/workload_initrd.h"

namespace tandem::vmm {
namespace {

// Kept short and quiet: every console byte is a VM exit. The kernel console is COM2, so the
// workload's stdio on COM1 stays clean; reboot=k makes the guest's end a pulse of the i8042
// reset line; panic=-1 turns a panic into that same reset at once, and the console tail says why.
constexpr const char* kBaseCmdline =
    "console=ttyS1 quiet reboot=k panic=-1 8250.nr_uarts=2 tsc=reliable no_timer_check "
    "random.trust_cpu=on";

const char* endName(MachineEnd end) {
  switch (end) {
    case MachineEnd::kGuestReset:
      return "guest_reset";
    case MachineEnd::kGuestStopped:
      return "guest_stopped";
    case MachineEnd::kTimeout:
      return "timeout";
    case MachineEnd::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

nlohmann::json statsOf(const MachineReport& report, unsigned cpus, std::uint64_t memoryBytes) {
  auto milliseconds = [](const std::optional<double>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
  };
  nlohmann::json json = {
      {"end", endName(report.end)},
      {"vcpus", cpus},
      {"memory_bytes", memoryBytes},
      {"timeline_ms",
       {{"first_kvm_run", milliseconds(report.timeline.firstRun)},
        {"guest_init", milliseconds(report.timeline.initStarted)},
        {"workload_started", milliseconds(report.timeline.workloadStarted)},
        {"workload_exit", milliseconds(report.timeline.workloadExited)},
        {"stopped", milliseconds(report.timeline.stopped)}}},
      {"exits_to_vmm", toJson(report.exits)},
      {"kvm_stats", report.kvmStats},
      {"devices", report.deviceCounters},
  };
  if (report.guestMemoryTotalBytes) {
    json["guest_memory"] = {{"total_bytes", *report.guestMemoryTotalBytes},
                            {"available_bytes", report.guestMemoryAvailableBytes.value_or(0)}};
  }
  if (report.vmmMemory) {
    json["vmm_memory"] = {{"rss_bytes", report.vmmMemory->rssBytes},
                          {"pss_bytes", report.vmmMemory->pssBytes}};
  }
  return json;
}

// The lines of the console tail that explain a guest that ended without a status.
std::string panicSummary(const std::string& console) {
  auto at = console.find("Kernel panic");
  if (at == std::string::npos) {
    return {};
  }
  auto end = console.find('\n', at);
  return console.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

Result<WorkloadOutcome> outcomeOf(const Workload& workload, const MachineReport& report) {
  WorkloadOutcome outcome;
  outcome.id = workload.id;
  switch (report.end) {
    case MachineEnd::kTimeout:
      return Error(report.endDetail + "; it was stopped", ETIMEDOUT);
    case MachineEnd::kInterrupted:
      outcome.status.signaled = true;
      outcome.status.signal = report.signal;
      return outcome;
    case MachineEnd::kGuestReset:
    case MachineEnd::kGuestStopped:
      break;
  }
  if (!report.status) {
    std::string panic = panicSummary(report.consoleTail);
    std::string console = report.consoleTail.empty()
                              ? ""
                              : "\n--- guest console (last lines) ---\n" + report.consoleTail;
    if (!panic.empty()) {
      return Error("the guest kernel panicked before the workload finished: " + panic + console,
                   EIO);
    }
    return Error(
        report.endDetail + " before tandem's init reported the workload's exit status" + console,
        EIO);
  }
  switch (report.status->kind) {
    case guest::StatusKind::kExited:
      outcome.status.code = report.status->payload;
      break;
    case guest::StatusKind::kSignaled:
      outcome.status.signaled = true;
      outcome.status.signal = report.status->payload;
      break;
    case guest::StatusKind::kInitFailed:
      // The reason already reached the workload's stderr through the guest.
      outcome.status.code = report.status->payload;
      break;
    default:
      return Error("the guest reported an unknown status kind " +
                       std::to_string(static_cast<int>(report.status->kind)),
                   EPROTO);
  }
  return outcome;
}

}  // namespace

unsigned vcpuCount(const Workload& workload) {
  if (!workload.limits.cpuMilli) {
    return 1;
  }
  return static_cast<unsigned>((*workload.limits.cpuMilli + 999) / 1000);
}

VmRun runWorkloadVm(const VmBackendConfig& config, const Workload& workload,
                    std::chrono::steady_clock::time_point startedAt, int parentPidfd) {
  // The kernel file, and a rootfs folder packed at boot, are read onto the heap, copied into
  // guest memory and dropped. A fixed mmap threshold makes such large buffers their own mappings,
  // returned to the kernel when freed; glibc's sliding threshold kept them, and their RSS, for the
  // VM's life.
  ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  // Booting from a disk, the initramfs holds tandem's init and the description alone: the init
  // mounts the root= device the command line names and moves into it.
  bool rootOnDisk = config.rootDisk.has_value();
  auto volumes = volumeDrives(workload, (rootOnDisk ? 1 : 0) + config.disks.size());
  if (!volumes) {
    return {std::move(volumes).error(), nullptr};
  }
  auto initramfs =
      WorkloadInitrd::create({.rootfsArchive = rootOnDisk ? std::string() : config.initramfsPath,
                              .rootfsDirectory = rootOnDisk ? std::string() : workload.rootfs,
                              .rootfsOnDisk = rootOnDisk,
                              .guestInitPath = config.guestInitPath,
                              .description = toJson(volumes->guestWorkload).dump()});
  if (!initramfs) {
    return {std::move(initramfs).error(), nullptr};
  }
  MachineConfig machine;
  machine.kernelPath = config.kernelPath;
  machine.vmlinuxCacheDirectory = config.vmlinuxCacheDirectory;
  std::uint64_t initramfsBytes = initramfs->maxBytes();
  machine.initrd = std::make_unique<WorkloadInitrd>(std::move(initramfs).value());
  machine.cmdline = std::string(kBaseCmdline) + " rdinit=" + guest::kInitPath;
  if (rootOnDisk) {
    machine.cmdline +=
        std::string(" root=/dev/vda rootfstype=ext4 ") + (config.rootDisk->readOnly ? "ro" : "rw");
    machine.disks.push_back(*config.rootDisk);
  }
  machine.memoryBytes = workload.limits.memoryBytes.value_or(kDefaultVmMemory);
  machine.cpus = vcpuCount(workload);
  machine.hugepages = config.hugepages;
  machine.disks.insert(machine.disks.end(), config.disks.begin(), config.disks.end());
  machine.disks.insert(machine.disks.end(), volumes->disks.begin(), volumes->disks.end());
  machine.nics = config.nics;
  machine.vsockSocketPath = config.vsockSocket;
  machine.timeout = config.timeout;
  machine.stdinFd = STDIN_FILENO;
  machine.showConsole = config.showConsole;
  machine.collectStatistics = config.stats;
  machine.kvmPath = config.kvmPath;
  machine.seccomp = config.seccomp;
  machine.jail = config.jail;
  machine.parentPidfd = parentPidfd;
  machine.startedAt = startedAt;
  spdlog::debug("booting {} with {} vCPUs, {} bytes of memory, initramfs of at most {} bytes",
                machine.kernelPath, machine.cpus, machine.memoryBytes, initramfsBytes);
  unsigned cpus = machine.cpus;
  std::uint64_t memoryBytes = machine.memoryBytes;
  auto report = runMachine(std::move(machine)).context("microVM");
  if (!report) {
    return {std::move(report).error(), nullptr};
  }
  return {outcomeOf(workload, *report),
          config.stats ? statsOf(*report, cpus, memoryBytes) : nlohmann::json(nullptr)};
}

}  // namespace tandem::vmm

#include "vmm/vm_backend.h"

#include <malloc.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/log.h"
#include "common/process.h"
#include "vmm/guest_protocol.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"
#include "vmm/workload_initrd.h"

namespace tandem::vmm {
namespace {

// Kept short and quiet: every console byte is a VM exit. The kernel console is COM2, so the
// workload's stdio on COM1 stays clean; reboot=k makes the guest's end a pulse of the i8042
// reset line; panic=-1 turns a panic into that same reset at once, and the console tail says why.
constexpr const char* kBaseCmdline =
    "console=ttyS1 quiet reboot=k panic=-1 8250.nr_uarts=2 tsc=reliable no_timer_check "
    "random.trust_cpu=on";

std::string executableDirectory() {
  auto path = ownExecutablePath();
  return path ? path->substr(0, path->rfind('/')) : ".";
}

unsigned vcpuCount(const Workload& workload) {
  if (!workload.limits.cpuMilli) {
    return 1;
  }
  return static_cast<unsigned>((*workload.limits.cpuMilli + 999) / 1000);
}

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

void printStats(const MachineReport& report, unsigned cpus, std::uint64_t memoryBytes) {
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
        {"workload_exit", milliseconds(report.timeline.workloadExited)},
        {"stopped", milliseconds(report.timeline.stopped)}}},
      {"exits_to_vmm", toJson(report.exits)},
      {"kvm_stats", report.kvmStats},
  };
  if (report.vmmMemory) {
    json["vmm_memory"] = {{"rss_bytes", report.vmmMemory->rssBytes},
                          {"pss_bytes", report.vmmMemory->pssBytes}};
  }
  std::cerr << json.dump(2) << "\n";
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

std::string cacheDirectory() {
  const char* cache = std::getenv("TANDEM_CACHE");
  return cache != nullptr && *cache != '\0' ? cache : "/var/cache/tandem";
}

}  // namespace

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
  if (const char* path = std::getenv("TANDEM_GUEST_INIT"); path != nullptr && *path != '\0') {
    return path;
  }
  std::string directory = executableDirectory();
  std::string installed = directory + "/tandem-guest-init";
  if (pathExists(installed)) {
    return installed;
  }
  return directory + "/guest-init/tandem-guest-init";
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
  return okStatus();
}

Result<WorkloadOutcome> VmBackend::run(const Workload& workload) {
  auto startedAt = std::chrono::steady_clock::now();
  // The kernel file, and a rootfs folder packed at boot, are read onto the heap, copied into
  // guest memory and dropped. A fixed mmap threshold makes such large buffers their own mappings,
  // returned to the kernel when freed; glibc's sliding threshold kept them, and their RSS, for the
  // VM's life.
  ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  TANDEM_ASSIGN_OR_RETURN(WorkloadInitrd initramfs,
                          WorkloadInitrd::create({.rootfsArchive = config_.initramfsPath,
                                                  .rootfsDirectory = workload.rootfs,
                                                  .guestInitPath = config_.guestInitPath,
                                                  .description = toJson(workload).dump()}));
  MachineConfig machine;
  machine.kernelPath = config_.kernelPath;
  machine.vmlinuxCacheDirectory = config_.vmlinuxCacheDirectory;
  std::uint64_t initramfsBytes = initramfs.maxBytes();
  machine.initrd = std::make_unique<WorkloadInitrd>(std::move(initramfs));
  machine.cmdline = std::string(kBaseCmdline) + " rdinit=" + guest::kInitPath;
  machine.memoryBytes = workload.limits.memoryBytes.value_or(kDefaultVmMemory);
  machine.cpus = vcpuCount(workload);
  machine.hugepages = config_.hugepages;
  machine.timeout = config_.timeout;
  machine.stdinFd = STDIN_FILENO;
  machine.showConsole = config_.showConsole;
  machine.kvmPath = config_.kvmPath;
  machine.startedAt = startedAt;
  spdlog::debug("booting {} with {} vCPUs, {} bytes of memory, initramfs of at most {} bytes",
                machine.kernelPath, machine.cpus, machine.memoryBytes, initramfsBytes);
  unsigned cpus = machine.cpus;
  std::uint64_t memoryBytes = machine.memoryBytes;
  TANDEM_ASSIGN_OR_RETURN(MachineReport report, runMachine(std::move(machine)).context("microVM"));
  if (config_.stats) {
    printStats(report, cpus, memoryBytes);
  }
  return outcomeOf(workload, report);
}

}  // namespace tandem::vmm

// One microVM from boot to its end: creates the VM, loads the guest, runs one thread per vCPU,
// serves the devices, feeds stdin, and stops at the guest's reset, a failure, a timeout or a
// signal to tandem. It knows tandem's guest protocol (the status port and the stdio framing)
// but nothing of workloads or the scheduler.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "vmm/disk_spec.h"
#include "vmm/exit_counts.h"
#include "vmm/guest_protocol.h"
#include "vmm/initrd_source.h"
#include "vmm/nic_spec.h"
#include "vmm/process_memory.h"
#include "vmm/thread_seccomp.h"
#include "vmm/vmm_jail.h"

namespace tandem::vmm {

struct MachineConfig {
  std::string kernelPath = {};
  // Where decompressed bzImage payloads are kept (vmlinux_cache.h); empty: no cache.
  std::string vmlinuxCacheDirectory = {};
  // Written into guest memory, then released; none when null.
  std::unique_ptr<InitrdSource> initrd = {};
  std::string cmdline = {};
  std::uint64_t memoryBytes = 256ull << 20;
  unsigned cpus = 1;
  bool hugepages = false;
  // virtio-blk disks, /dev/vda onwards.
  std::vector<DiskSpec> disks = {};
  // virtio-net interfaces over host TAP devices, eth0 onwards.
  std::vector<NicSpec> nics = {};
  // Where the guest's vsock is reached from the host (virtio/vsock.h); empty: no vsock device.
  std::string vsockSocketPath = {};
  std::optional<std::chrono::milliseconds> timeout = {};
  // The workload's stdin (-1: none, the guest sees end-of-input at once) and where the guest's
  // framed stdout and stderr go.
  int stdinFd = -1;
  int stdoutFd = 1;
  int stderrFd = 2;
  // Copy the guest kernel's console to stderr as it arrives, not only on failure.
  bool showConsole = false;
  // Read KVM's counters and the VMM's memory at the end, for MachineReport: a few milliseconds
  // of work that only --stats wants.
  bool collectStatistics = false;
  std::string kvmPath = "/dev/kvm";
  // Each thread's syscall allowlist (thread_seccomp.h), installed once the machine is built.
  SeccompMode seccomp = SeccompMode::kEnforce;
  // Confine the monitor in a jail of its own (vmm_jail.h) as this user; none: no jail.
  std::optional<JailUser> jail = {};
  // A pidfd of the process the monitor dies with, checked again after the switch to the jail's
  // user; -1: none.
  int parentPidfd = -1;
  // When tandem started, for the boot timeline.
  std::chrono::steady_clock::time_point startedAt = std::chrono::steady_clock::now();
};

enum class MachineEnd {
  kGuestReset,    // the guest pulsed the reset line: the normal end
  kGuestStopped,  // triple fault, power-off or crash
  kTimeout,
  kInterrupted,  // tandem got SIGINT, SIGTERM or SIGHUP
};

struct GuestStatus {
  guest::StatusKind kind = guest::StatusKind::kExited;
  std::uint8_t payload = 0;
};

// Milliseconds from MachineConfig::startedAt.
struct BootTimeline {
  std::optional<double> firstRun;
  std::optional<double> initStarted;
  std::optional<double> workloadStarted;
  std::optional<double> workloadExited;
  std::optional<double> stopped;
};

struct MachineReport {
  MachineEnd end = MachineEnd::kGuestReset;
  std::string endDetail;
  int signal = 0;  // for kInterrupted
  std::optional<GuestStatus> status;
  // The last few KiB the guest kernel printed on its console.
  std::string consoleTail;
  BootTimeline timeline;
  ExitCounts exits;
  std::map<std::string, std::uint64_t> kvmStats;  // summed over vCPUs
  std::optional<MemoryUse> vmmMemory;             // without guest RAM
  // The guest's memory when the workload ended, as its init reported it over vsock.
  std::optional<std::uint64_t> guestMemoryTotalBytes;
  std::optional<std::uint64_t> guestMemoryAvailableBytes;
  // Each virtio device's own counters, by device name ("eth0", "vsock").
  std::map<std::string, std::map<std::string, std::uint64_t>> deviceCounters;
};

// An error means the VMM could not build or run the VM (bad kernel, no KVM, a KVM failure);
// anything the guest does ends in a report.
Result<MachineReport> runMachine(MachineConfig config);

}  // namespace tandem::vmm

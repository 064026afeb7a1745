// tandem's hardware-level isolation backend: runs a workload in a microVM, inside a tandem-vmm
// process that tandem starts and supervises (workload_vm.h is what that process does).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/isolation_backend.h"
#include "common/result.h"
#include "common/workload.h"
#include "vmm/disk_spec.h"
#include "vmm/nic_spec.h"
#include "vmm/thread_seccomp.h"
#include "vmm/vmm_jail.h"

namespace tandem::vmm {

inline constexpr std::uint64_t kDefaultVmMemory = 256ull << 20;

// $TANDEM_CACHE/vmlinux, else /var/cache/tandem/vmlinux.
std::string defaultVmlinuxCache();

struct VmBackendConfig {
  std::string kernelPath;
  std::string guestInitPath;
  // A prebuilt initramfs (tandem-mkinitramfs) used instead of the workload's rootfs folder.
  std::string initramfsPath;
  std::string kvmPath = "/dev/kvm";
  // Where bzImage payloads decompressed by the VMM are kept (vmlinux_cache.h).
  std::string vmlinuxCacheDirectory = defaultVmlinuxCache();
  std::optional<std::chrono::milliseconds> timeout;
  bool hugepages = false;
  // Host files attached as virtio-blk disks, /dev/vda onwards (after the root disk).
  std::vector<DiskSpec> disks;
  // The disk the guest mounts as its root, /dev/vda: set by VmBackend::run for a workload with
  // a rootfsDisk, as that disk under the workload's own layer.
  std::optional<DiskSpec> rootDisk;
  // Network interfaces over host TAP devices, the guest's eth0 onwards.
  std::vector<NicSpec> nics;
  // The host end of the guest's vsock, a Unix socket (virtio/vsock.h): set by VmBackend::run to
  // vms/<id>/vsock/vsock.sock, where `tandem exec` finds the guest agent.
  std::string vsockSocket;
  // Holds vms/<id> (the workload's config and its root disk's layer).
  std::string stateRoot = "/var/lib/tandem";
  bool showConsole = false;
  // Print boot timings, exits and VMM memory to stderr as JSON after the run.
  bool stats = false;
  // The VMM threads' syscall allowlists (thread_seccomp.h).
  SeccompMode seccomp = SeccompMode::kEnforce;
  // The monitor's jail and its user (vmm_jail.h): set by VmBackend::run when tandem runs as
  // root; none: the monitor stays in tandem's namespaces and root.
  std::optional<JailUser> jail;
  // Give tandem-vmm a cgroup of its own, tandem/<id> (when tandem runs as root): off for an OCI
  // bundle's microVM, whose runtime has already put its process in the bundle's cgroupsPath.
  bool ownCgroup = true;
};

// A microVM's folder under the state root, and its vsock's socket there, in a folder of its own
// (vsock/), the one thing a jailed monitor sees of the host.
std::string vmStateDirectory(const std::string& stateRoot, const std::string& id);
std::string vsockSocketPath(const std::string& stateRoot, const std::string& id);

// Where the guest kernel is looked for when no --kernel is given: $TANDEM_GUEST_KERNEL, else
// the build cache's current entry (guest-kernel-config/build.sh).
std::string defaultGuestKernel();
// $TANDEM_GUEST_INIT, else tandem-guest-init next to this executable (installed) or in the
// build tree (build/tools/tandem next to build/tools/guest-init/). tandem-vmm is found the same
// way, through $TANDEM_VMM or build/tools/vmm/.
std::string defaultGuestInit();

class VmBackend : public IsolationBackend {
 public:
  explicit VmBackend(VmBackendConfig config) : config_(std::move(config)) {}
  Isolation level() const override { return Isolation::kVm; }
  Status available() const override;
  Result<WorkloadOutcome> run(const Workload& workload, const StartedCallback& started) override;
  // Nothing: tandem-vmm dies with the process that ran it, and its TAP with it; the state folder
  // stays for `tandem rm`.
  // tandem-vmm dies with its monitor, and the TAP device with tandem-vmm; the address the
  // monitor leased is left, and released here.
  Status cleanUpAfter(const std::string& id) override;
  // tandem-vmm's CPU time (its vCPU threads' included) and resident memory (the guest memory
  // it has touched included); the limit is the guest's memory.
  Result<ResourceUsage> usage(const std::string& id, pid_t workloadPid) const override;

 private:
  VmBackendConfig config_;
};

}  // namespace tandem::vmm

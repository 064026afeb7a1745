#include "common/oci/bundle_workload.h"

#include <algorithm>
#include <array>

#include "common/volume.h"

namespace tandem::oci {

namespace {

// Filesystems a guest kernel mounts for itself.
constexpr std::array<const char*, 8> kGuestFilesystems{"proc",   "sysfs",  "devpts",  "tmpfs",
                                                       "mqueue", "cgroup", "cgroup2", "shm"};

bool isBind(const Mount& mount) {
  return mount.type == "bind" ||
         std::any_of(mount.options.begin(), mount.options.end(),
                     [](const std::string& o) { return o == "bind" || o == "rbind"; });
}

// Under the guest's own /dev, /proc and /sys: what the host binds there (podman's /dev/shm) the
// guest kernel provides itself.
bool inGuestKernelTree(const std::string& destination) {
  for (const char* tree : {"/dev", "/proc", "/sys"}) {
    std::string prefix(tree);
    if (destination == prefix || destination.starts_with(prefix + "/")) return true;
  }
  return false;
}

bool readOnly(const Mount& mount) {
  bool ro = false;
  for (const std::string& option : mount.options) {
    if (option == "ro" || option == "rro") ro = true;
    if (option == "rw") ro = false;
  }
  return ro;
}

}  // namespace

Result<BundleWorkload> workloadFromBundle(const Spec& spec, const std::string& id,
                                          const std::string& rootfs,
                                          bool (*isFolder)(const std::string&)) {
  if (!spec.process) return Error("config.json: process is required to create a container");
  const Process& process = *spec.process;
  if (process.terminal) {
    return Error(
        "process.terminal: a microVM's console is not offered as a pty yet; run it without a "
        "terminal (podman: without -t), or at container level");
  }
  BundleWorkload out;
  Workload& workload = out.workload;
  workload.id = id;
  workload.isolation = Isolation::kVm;
  workload.command = process.args;
  workload.env = process.env;
  workload.workdir = process.cwd;
  workload.hostname = spec.hostname;
  workload.rootfs = rootfs;
  workload.readOnlyRootfs = spec.rootReadonly;
  workload.network = NetworkMode::kNone;
  workload.user.spec = std::to_string(process.uid) + ":" + std::to_string(process.gid);
  workload.user.uid = process.uid;
  workload.user.gid = process.gid;
  workload.user.additionalGids.assign(process.additionalGids.begin(), process.additionalGids.end());
  for (const Rlimit& limit : process.rlimits) {
    workload.rlimits.push_back(tandem::Rlimit{limit.resource, limit.soft, limit.hard});
  }
  const Resources& resources = spec.linux.resources;
  if (resources.memoryLimit && *resources.memoryLimit > 0) {
    workload.limits.memoryBytes = static_cast<std::uint64_t>(*resources.memoryLimit);
  }
  workload.limits.cpuMilli = resources.cpuMilli();
  for (const Mount& mount : spec.mounts) {
    bool guestOwn = std::find(kGuestFilesystems.begin(), kGuestFilesystems.end(), mount.type) !=
                    kGuestFilesystems.end();
    if (inGuestKernelTree(mount.destination)) {
      if (!guestOwn || isBind(mount)) {
        out.skipped.push_back(mount.destination + ": the guest kernel's own");
      }
      continue;
    }
    if (guestOwn && !isBind(mount)) {
      // Only /proc, /sys and /dev are the guest's; a tmpfs elsewhere (podman --tmpfs) is not.
      out.skipped.push_back(mount.destination + ": a " + mount.type +
                            " mount the guest does not make; the guest's root is writable memory");
      continue;
    }
    if (!isBind(mount)) {
      out.skipped.push_back(mount.destination + ": a mount of type \"" + mount.type +
                            "\", which the guest does not make");
      continue;
    }
    if (!isFolder(mount.source)) {
      out.skipped.push_back(mount.destination + ": a single host file (" + mount.source +
                            "), which a microVM cannot share");
      continue;
    }
    if (!readOnly(mount)) {
      return Error("mount " + mount.destination +
                   ": a microVM shares no writable folder with "
                   "its host; bind " +
                   mount.source + " read-only (podman: -v SRC:DST:ro)");
    }
    workload.volumes.push_back(Volume{mount.source, mount.destination, true, VolumeKind::kBind});
  }
  if (spec.linux.seccomp) {
    out.skipped.push_back(
        "linux.seccomp: the guest kernel is the boundary; the profile is not "
        "applied inside it");
  }
  TANDEM_TRY(validate(workload));
  return out;
}

}  // namespace tandem::oci

#include "container/mount_plan.h"

#include <sys/mount.h>

namespace tandem::container {

std::vector<MountEntry> specialMounts(const MountPlanOptions& options) {
  constexpr unsigned long kNoSuidDevExec = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  std::vector<MountEntry> mounts{
      {"proc", "/proc", "proc", kNoSuidDevExec, ""},
      {"tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"},
      // newinstance gives the container its own pty numbering, invisible from the host's.
      {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
       "newinstance,ptmxmode=0666,mode=0620,gid=5"},
      {"shm", "/dev/shm", "tmpfs", kNoSuidDevExec, "mode=1777,size=65536k"},
  };
  if (options.ownIpcNamespace) {
    mounts.push_back({"mqueue", "/dev/mqueue", "mqueue", kNoSuidDevExec, ""});
  }
  if (options.ownNetworkNamespace) {
    mounts.push_back({"sysfs", "/sys", "sysfs", kNoSuidDevExec | MS_RDONLY, ""});
  } else {
    mounts.push_back({"/sys", "/sys", "", MS_BIND | MS_REC | MS_RDONLY, ""});
  }
  return mounts;
}

const std::vector<DeviceNode>& defaultDevices() {
  static const std::vector<DeviceNode> devices{
      {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
      {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
  };
  return devices;
}

const std::vector<Symlink>& devSymlinks() {
  static const std::vector<Symlink> links{
      {"/proc/self/fd", "/dev/fd"},       {"/proc/self/fd/0", "/dev/stdin"},
      {"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
      {"pts/ptmx", "/dev/ptmx"},          {"/proc/kcore", "/dev/core"},
  };
  return links;
}

const std::vector<std::string>& maskedPaths() {
  static const std::vector<std::string> paths{
      "/proc/acpi",
      "/proc/asound",
      "/proc/kcore",
      "/proc/keys",
      "/proc/latency_stats",
      "/proc/timer_list",
      "/proc/timer_stats",
      "/proc/sched_debug",
      "/proc/scsi",
      "/sys/firmware",
      "/sys/devices/virtual/powercap",
  };
  return paths;
}

const std::vector<std::string>& readOnlyPaths() {
  static const std::vector<std::string> paths{
      "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
  };
  return paths;
}

Result<std::string> overlayOptions(const std::vector<std::string>& lowers, const std::string& upper,
                                   const std::string& work) {
  if (lowers.empty()) {
    return Error("an overlay needs at least one lower layer");
  }
  auto check = [](const std::string& path) -> Status {
    if (path.empty() || path.front() != '/') {
      return Error("overlay layer path \"" + path + "\" must be absolute");
    }
    if (path.find_first_of(",:") != std::string::npos) {
      return Error("overlay layer path \"" + path +
                   "\" contains ',' or ':', which overlayfs cannot take; move or rename it");
    }
    return okStatus();
  };
  std::string options = "lowerdir=";
  for (std::size_t i = 0; i < lowers.size(); ++i) {
    TANDEM_TRY(check(lowers[i]));
    options += (i ? ":" : "") + lowers[i];
  }
  if (!upper.empty()) {
    TANDEM_TRY(check(upper));
    TANDEM_TRY(check(work));
    options += ",upperdir=" + upper + ",workdir=" + work;
  }
  return options;
}

}  // namespace tandem::container

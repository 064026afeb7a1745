#include "tools/guest-init/mounts.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <string>

#include "tools/guest-init/console.h"

namespace tandem::guest_init {

namespace {

struct KernelMount {
  const char* type;
  const char* target;
  unsigned long flags;
  const char* options;
  bool required;
};

// Flags as docker gives a container; gid 5 is the "tty" group by convention, as there.
constexpr KernelMount kDevices = {"devtmpfs", "/dev", MS_NOSUID, "mode=0755", true};
constexpr KernelMount kKernelFilesystems[] = {
    {"proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr, true},
    {"sysfs", "/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr, true},
    {"devpts", "/dev/pts", MS_NOSUID | MS_NOEXEC, "ptmxmode=0666,mode=0620,gid=5", false},
    {"tmpfs", "/dev/shm", MS_NOSUID | MS_NODEV, "mode=1777", false},
};

Status mountOne(const KernelMount& m) {
  if (::mkdir(m.target, 0755) != 0 && errno != EEXIST) {
    return Error::fromErrno(std::string("cannot create the mount point ") + m.target);
  }
  if (::mount(m.type, m.target, m.type, m.flags, m.options) != 0) {
    return Error::fromErrno(std::string("cannot mount ") + m.type + " on " + m.target);
  }
  return okStatus();
}

}  // namespace

Status mountDevices() {
  return mountOne(kDevices);
}

Status mountKernelFilesystems() {
  for (const auto& m : kKernelFilesystems) {
    auto mounted = mountOne(m);
    if (!mounted) {
      if (m.required) {
        return mounted;
      }
      consoleMessage(mounted.error().describe() + "; going on without it");
    }
  }
  return okStatus();
}

}  // namespace tandem::guest_init

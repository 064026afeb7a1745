#include "tools/guest-init/mounts.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

// Where the root device is mounted before it becomes the root: inside the initramfs, which is
// left behind, holding only init and the description.
constexpr const char* kNewRoot = "/.tandem/root";
constexpr const char* kMovedMounts[] = {"/dev", "/proc", "/sys"};
constexpr int kDeviceWaitMilliseconds = 5000;

Status mountRootDevice(const RootDevice& root) {
  unsigned long flags = root.readOnly ? MS_RDONLY : 0;
  for (int waited = 0;; waited += 10) {
    if (::mount(root.device.c_str(), kNewRoot, root.type.c_str(), flags, nullptr) == 0) {
      return okStatus();
    }
    bool notYet = errno == ENOENT || errno == ENXIO;
    if (!notYet || waited >= kDeviceWaitMilliseconds) {
      return Error::fromErrno("cannot mount the root disk " + root.device + " (" + root.type +
                              ") on " + kNewRoot);
    }
    timespec pause{0, 10'000'000};
    ::nanosleep(&pause, nullptr);
  }
}

}  // namespace

Status switchToRoot(const RootDevice& root) {
  if (::mkdir(kNewRoot, 0755) != 0 && errno != EEXIST) {
    return Error::fromErrno(std::string("cannot create ") + kNewRoot);
  }
  TANDEM_TRY(mountRootDevice(root));
  for (const char* path : kMovedMounts) {
    std::string target = std::string(kNewRoot) + path;
    if (::mkdir(target.c_str(), 0755) != 0 && errno != EEXIST) {
      return Error::fromErrno("the root disk " + root.device + " has no " + path +
                              " folder and it cannot be made");
    }
    if (::mount(path, target.c_str(), nullptr, MS_MOVE, nullptr) != 0) {
      return Error::fromErrno(std::string("cannot move ") + path + " into the root disk");
    }
  }
  if (::chdir(kNewRoot) != 0 || ::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0 ||
      ::chroot(".") != 0 || ::chdir("/") != 0) {
    return Error::fromErrno("cannot make the root disk " + root.device + " the root");
  }
  return okStatus();
}

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

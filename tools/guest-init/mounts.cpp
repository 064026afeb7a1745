#include "tools/guest-init/mounts.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <string>

#include "common/file.h"
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

// Mounts `device`, waiting a little for its node, as rootwait does: virtio-blk disks may still be
// probing when init starts.
Status mountDevice(const std::string& device, const std::string& target, const std::string& type,
                   unsigned long flags, const std::string& what) {
  for (int waited = 0;; waited += 10) {
    if (::mount(device.c_str(), target.c_str(), type.c_str(), flags, nullptr) == 0) {
      return okStatus();
    }
    bool notYet = errno == ENOENT || errno == ENXIO;
    if (!notYet || waited >= kDeviceWaitMilliseconds) {
      return Error::fromErrno("cannot mount " + what + " " + device + " (" + type + ") on " +
                              target);
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
  TANDEM_TRY(mountDevice(root.device, kNewRoot, root.type, root.readOnly ? MS_RDONLY : 0,
                         "the root disk"));
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

Status mountVolumes(const std::vector<Volume>& volumes) {
  for (const Volume& volume : volumes) {
    if (Status made = makeDirectories(volume.target, 0755); !made) {
      int error = made.error().errnum();
      return Error(
          made.error().message() +
              (error == EROFS ? " for a volume, in the read-only root; give a path that exists in "
                                "the image"
                              : " for a volume"),
          error);
    }
    Status mounted = mountDevice(volume.source, volume.target, "ext4",
                                 volume.readOnly ? MS_RDONLY : 0, "the volume");
    if (!mounted && mounted.error().errnum() == EINVAL) {
      return Error(mounted.error().message() +
                       ": the volume's file holds no ext4 file system (mkfs.ext4 makes one)",
                   EINVAL);
    }
    TANDEM_TRY(std::move(mounted));
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
      // A kernel built without the filesystem (tandem's own has no devpts) is a choice, not a
      // fault; a line on the console would cost an exit per character.
      if (mounted.error().errnum() != ENODEV) {
        consoleMessage(mounted.error().describe() + "; going on without it");
      }
    }
  }
  return okStatus();
}

}  // namespace tandem::guest_init

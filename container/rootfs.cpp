#include "container/rootfs.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "common/file.h"
#include "common/log.h"
#include "container/mount_info.h"
#include "container/volume_mounts.h"

namespace tandem::container {

namespace {

Status mountOrError(const std::string& source, const std::string& target, const std::string& fstype,
                    unsigned long flags, const std::string& data) {
  if (::mount(source.c_str(), target.c_str(), fstype.empty() ? nullptr : fstype.c_str(), flags,
              data.empty() ? nullptr : data.c_str()) != 0) {
    return Error::fromErrno("cannot mount " + (fstype.empty() ? source : fstype) + " on " + target);
  }
  return okStatus();
}

// A bind mount ignores MS_RDONLY and friends on creation; they take effect on a remount.
Status remountReadOnly(const std::string& target, unsigned long extraFlags) {
  if (::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | extraFlags,
              nullptr) != 0) {
    return Error::fromErrno("cannot make " + target + " read-only");
  }
  return okStatus();
}

Status makeDevice(const std::string& root, const DeviceNode& device, bool userNamespace) {
  std::string path = root + device.path;
  if (!userNamespace) {
    if (::mknod(path.c_str(), S_IFCHR | 0666, makedev(device.major, device.minor)) != 0) {
      return Error::fromErrno("cannot create device node " + device.path);
    }
    // mknod honours the umask; the nodes must be usable by every user of the container.
    if (::chmod(path.c_str(), 0666) != 0) {
      return Error::fromErrno("cannot set the mode of " + device.path);
    }
    return okStatus();
  }
  // A user namespace may not create device nodes; bind the host's instead, as rootless runc does.
  TANDEM_TRY(writeFile(path, "", 0666));
  return mountOrError(device.path, path, "", MS_BIND, "");
}

}  // namespace

Status buildRootfs(const RootfsLayout& layout, const std::vector<Volume>& volumes,
                   std::vector<UniqueFd> diskMounts) {
  std::vector<std::string> lowers = layout.image;
  lowers.push_back(layout.skeleton);
  bool writable = !layout.readOnly || !volumes.empty();
  TANDEM_ASSIGN_OR_RETURN(std::string options,
                          overlayOptions(lowers, writable ? layout.upper : "", layout.work));
  if (layout.userNamespace) {
    // trusted.* xattrs are out of reach in a user namespace; overlayfs keeps its own in user.*.
    options += ",userxattr";
  }
  if (auto status = mountOrError("overlay", layout.merged, "overlay", 0, options); !status) {
    return std::move(status).error().context(
        "cannot build the root filesystem from " + layout.image.front() +
        (layout.image.size() > 1 ? " and the layers below it" : ""));
  }
  for (const auto& entry : specialMounts(layout.plan)) {
    std::string target = layout.merged + entry.target;
    if (entry.fstype.empty()) {
      TANDEM_TRY(mountOrError(entry.source, target, "", entry.flags & (MS_BIND | MS_REC), ""));
      TANDEM_TRY(remountReadOnly(target, entry.flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC)));
    } else {
      TANDEM_TRY(mountOrError(entry.source, target, entry.fstype, entry.flags, entry.data));
    }
    if (entry.target == "/dev") {
      for (const char* sub : {"/dev/pts", "/dev/shm", "/dev/mqueue"}) {
        if (::mkdir((layout.merged + sub).c_str(), 0755) != 0) {
          return Error::fromErrno(std::string("cannot create ") + sub);
        }
      }
    }
  }
  for (const auto& device : defaultDevices()) {
    TANDEM_TRY(makeDevice(layout.merged, device, layout.userNamespace));
  }
  for (const auto& link : devSymlinks()) {
    if (::symlink(link.target.c_str(), (layout.merged + link.path).c_str()) != 0) {
      return Error::fromErrno("cannot create the link " + link.path);
    }
  }
  return mountVolumes(layout.merged, volumes, std::move(diskMounts));
}

Result<Console> openConsole(const std::string& merged) {
  std::string ptmx = merged + "/dev/pts/ptmx";
  TANDEM_ASSIGN_OR_RETURN(UniqueFd master, openPath(ptmx, O_RDWR | O_NOCTTY));
  int unlock = 0;
  if (::ioctl(master.get(), TIOCSPTLCK, &unlock) != 0) {
    return Error::fromErrno("cannot unlock the container's pty");
  }
  // TIOCGPTPEER opens the slave through the master, so no path lookup can be raced.
  int slave = ::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    return Error::fromErrno("cannot open the container's pty");
  }
  Console console{std::move(master), UniqueFd(slave)};
  std::string consolePath = merged + "/dev/console";
  TANDEM_TRY(writeFile(consolePath, "", 0600));
  TANDEM_TRY(mountOrError("/proc/self/fd/" + std::to_string(console.slave.get()), consolePath, "",
                          MS_BIND, ""));
  return console;
}

namespace {

// The kernel's initial root (rootfs, a ramfs or tmpfs holding the initramfs) can never be
// pivoted away from.
bool hostRootIsInitramfs() {
  auto mounts = readMountInfo();
  if (!mounts) return false;
  for (const MountInfoEntry& mount : *mounts) {
    if (mount.mountPoint == "/") {
      return mount.fsType == "rootfs" || mount.fsType == "ramfs" || mount.fsType == "tmpfs";
    }
  }
  return false;
}

// Where pivot_root cannot work, the new root is moved over the old one and chrooted into, as
// runc --no-pivot and docker's DOCKER_RAMDISK do. The host's other mounts are detached first,
// so that only the initramfs itself stays beneath the container's root.
Status moveOverInitramfs(const std::string& merged) {
  spdlog::debug(
      "the host's root is an initramfs, which pivot_root cannot leave: moving {} over "
      "it and changing root instead",
      merged);
  TANDEM_ASSIGN_OR_RETURN(auto mounts, readMountInfo());
  std::vector<std::string> others;
  for (const MountInfoEntry& mount : mounts) {
    const std::string& point = mount.mountPoint;
    // Kept: the root itself, the new root and what it holds, and the mounts it lies on.
    if (point != "/" && point != merged && !point.starts_with(merged + "/") &&
        !merged.starts_with(point + "/")) {
      others.push_back(point);
    }
  }
  // Deepest first, so a parent is detached after what it holds; those that will not go are
  // out of reach anyway once the root moves.
  std::sort(others.begin(), others.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& point : others) {
    ::umount2(point.c_str(), MNT_DETACH);
  }
  if (::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0) {
    return Error::fromErrno("cannot move " + merged + " over the host's initramfs root");
  }
  if (::chroot(".") != 0) {
    return Error::fromErrno("cannot change root into " + merged);
  }
  return okStatus();
}

}  // namespace

Status enterRootfs(const RootfsLayout& layout) {
  if (::chdir(layout.merged.c_str()) != 0) {
    return Error::fromErrno("cannot enter " + layout.merged);
  }
  // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves no path back.
  if (::syscall(SYS_pivot_root, ".", ".") == 0) {
    if (::umount2(".", MNT_DETACH) != 0) {
      return Error::fromErrno("cannot detach the host's root filesystem");
    }
  } else if (errno == EINVAL && hostRootIsInitramfs()) {
    TANDEM_TRY(moveOverInitramfs(layout.merged));
  } else {
    return Error::fromErrno("cannot pivot_root into " + layout.merged);
  }
  if (::chdir("/") != 0) {
    return Error::fromErrno("cannot change to the new root");
  }
  for (const auto& path : maskedPaths()) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      TANDEM_TRY(mountOrError("tmpfs", path, "tmpfs", MS_RDONLY, "size=0"));
    } else {
      TANDEM_TRY(mountOrError("/dev/null", path, "", MS_BIND, ""));
    }
  }
  for (const auto& path : readOnlyPaths()) {
    if (!pathExists(path)) {
      continue;
    }
    TANDEM_TRY(mountOrError(path, path, "", MS_BIND | MS_REC, ""));
    TANDEM_TRY(remountReadOnly(path, MS_NOSUID | MS_NODEV | MS_NOEXEC));
  }
  if (layout.readOnly) {
    TANDEM_TRY(remountReadOnly("/", 0));
  }
  return okStatus();
}

}  // namespace tandem::container

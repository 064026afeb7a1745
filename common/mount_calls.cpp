#include "common/mount_calls.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>

#include "common/file.h"
#include "common/log.h"
#include "common/mount_info.h"

namespace tandem {

Status mountOrError(const std::string& source, const std::string& target, const std::string& fstype,
                    unsigned long flags, const std::string& data) {
  if (::mount(source.c_str(), target.c_str(), fstype.empty() ? nullptr : fstype.c_str(), flags,
              data.empty() ? nullptr : data.c_str()) != 0) {
    return Error::fromErrno("cannot mount " + (fstype.empty() ? source : fstype) + " on " + target);
  }
  return okStatus();
}

Status remountReadOnly(const std::string& target, unsigned long extraFlags) {
  if (::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | extraFlags,
              nullptr) != 0) {
    return Error::fromErrno("cannot make " + target + " read-only");
  }
  return okStatus();
}

Status makeCharDevice(const std::string& path, const std::string& hostPath, unsigned major,
                      unsigned minor, bool userNamespace) {
  if (!userNamespace) {
    if (::mknod(path.c_str(), S_IFCHR | 0666, makedev(major, minor)) != 0) {
      return Error::fromErrno("cannot create device node " + path);
    }
    // mknod honours the umask; the nodes must be usable by every user of the container.
    if (::chmod(path.c_str(), 0666) != 0) {
      return Error::fromErrno("cannot set the mode of " + path);
    }
    return okStatus();
  }
  // A user namespace may not create device nodes; bind the host's instead, as rootless runc does.
  TANDEM_TRY(writeFile(path, "", 0666));
  return mountOrError(hostPath, path, "", MS_BIND, "");
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
// so that only the old root itself stays beneath the container's root.
Status moveOverOldRoot(const std::string& root) {
  spdlog::debug("moving {} over the old root and changing root instead of pivot_root", root);
  TANDEM_ASSIGN_OR_RETURN(auto mounts, readMountInfo());
  std::vector<std::string> others;
  for (const MountInfoEntry& mount : mounts) {
    const std::string& point = mount.mountPoint;
    // Kept: the root itself, the new root and what it holds, and the mounts it lies on.
    if (point != "/" && point != root && !point.starts_with(root + "/") &&
        !root.starts_with(point + "/")) {
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
    return Error::fromErrno("cannot move " + root + " over the old root");
  }
  if (::chroot(".") != 0) {
    return Error::fromErrno("cannot change root into " + root);
  }
  return okStatus();
}

}  // namespace

Status enterRoot(const std::string& root, bool noPivot) {
  if (::chdir(root.c_str()) != 0) {
    return Error::fromErrno("cannot enter " + root);
  }
  if (noPivot) {
    TANDEM_TRY(moveOverOldRoot(root));
  } else if (::syscall(SYS_pivot_root, ".", ".") == 0) {
    // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves no path
    // back.
    if (::umount2(".", MNT_DETACH) != 0) {
      return Error::fromErrno("cannot detach the host's root filesystem");
    }
  } else if (errno == EINVAL && hostRootIsInitramfs()) {
    TANDEM_TRY(moveOverOldRoot(root));
  } else {
    return Error::fromErrno("cannot pivot_root into " + root);
  }
  if (::chdir("/") != 0) {
    return Error::fromErrno("cannot change to the new root");
  }
  return okStatus();
}

Status protectPaths(const std::vector<std::string>& masked,
                    const std::vector<std::string>& readOnly) {
  for (const auto& path : masked) {
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
  for (const auto& path : readOnly) {
    if (!pathExists(path)) {
      continue;
    }
    TANDEM_TRY(mountOrError(path, path, "", MS_BIND | MS_REC, ""));
    TANDEM_TRY(remountReadOnly(path, MS_NOSUID | MS_NODEV | MS_NOEXEC));
  }
  return okStatus();
}

}  // namespace tandem

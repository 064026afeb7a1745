#include "container/rootfs.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <vector>

#include "common/file.h"
#include "common/mount_calls.h"
#include "container/volume_mounts.h"

namespace tandem::container {

Status buildRootfs(const RootfsLayout& layout, const std::vector<Volume>& volumes,
                   UniqueFd layerMount, std::vector<UniqueFd> diskMounts) {
  if (!layout.layerDisk.empty() &&
      ::move_mount(layerMount.get(), "", AT_FDCWD, layout.layerDisk.c_str(),
                   MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    return Error::fromErrno("cannot place the writable layer's filesystem on " + layout.layerDisk);
  }
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
    TANDEM_TRY(makeCharDevice(layout.merged + device.path, device.path, device.major, device.minor,
                              layout.userNamespace));
  }
  for (const auto& link : devSymlinks()) {
    if (::symlink(link.target.c_str(), (layout.merged + link.path).c_str()) != 0) {
      return Error::fromErrno("cannot create the link " + link.path);
    }
  }
  return mountVolumes(layout.merged, volumes, std::move(diskMounts));
}

Result<Console> openPty(const std::string& ptmx) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd master, openPath(ptmx, O_RDWR | O_NOCTTY));
  int unlock = 0;
  if (::ioctl(master.get(), TIOCSPTLCK, &unlock) != 0) {
    return Error::fromErrno("cannot unlock the container's pty");
  }
  int slave = ::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    return Error::fromErrno("cannot open the container's pty");
  }
  return Console{std::move(master), UniqueFd(slave)};
}

Status attachTerminal(int slave) {
  if (::ioctl(slave, TIOCSCTTY, 0) != 0) {
    return Error::fromErrno("cannot make the pty the controlling terminal");
  }
  for (int fd = 0; fd < 3; ++fd) {
    if (::dup2(slave, fd) != fd) {
      return Error::fromErrno("cannot attach the pty to stdio");
    }
  }
  return okStatus();
}

Result<Console> openConsole(const std::string& merged) {
  TANDEM_ASSIGN_OR_RETURN(Console console, openPty(merged + "/dev/pts/ptmx"));
  std::string consolePath = merged + "/dev/console";
  TANDEM_TRY(writeFile(consolePath, "", 0600));
  TANDEM_TRY(mountOrError("/proc/self/fd/" + std::to_string(console.slave.get()), consolePath, "",
                          MS_BIND, ""));
  return console;
}

Status enterRootfs(const RootfsLayout& layout) {
  TANDEM_TRY(enterRoot(layout.merged));
  TANDEM_TRY(protectPaths(maskedPaths(), readOnlyPaths()));
  if (layout.readOnly) {
    TANDEM_TRY(remountReadOnly("/", 0));
  }
  return okStatus();
}

}  // namespace tandem::container

#include "container/volume_mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/inside_root.h"
#include "common/log.h"
#include "container/ext4_mount.h"

namespace tandem::container {
namespace {

bool covers(const std::string& target, const char* top) {
  std::string prefix = std::string(top) + "/";
  return target == top || target.starts_with(prefix);
}

// A detached copy of the host path's mount tree, for move_mount to place.
Result<UniqueFd> bindTree(const Volume& volume) {
  UniqueFd tree(::open_tree(AT_FDCWD, volume.source.c_str(),
                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
  if (!tree) {
    return Error::fromErrno("cannot bind the volume's host path " + volume.source);
  }
  if (volume.readOnly) {
    mount_attr attributes{};
    attributes.attr_set = MOUNT_ATTR_RDONLY;
    if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attributes,
                        sizeof attributes) != 0) {
      return Error::fromErrno("cannot make the volume " + volume.source + " read-only");
    }
  }
  return tree;
}

// The mount point inside the root: a folder for a folder, a file for anything else, made when
// missing.
Result<UniqueFd> mountPoint(int rootFd, const Volume& volume, bool folder) {
  std::string inside = volume.target.substr(1);
  if (folder) {
    auto point = makeDirsInRoot(rootFd, inside);
    if (!point) {
      return std::move(point).error().context("cannot make the mount point " + volume.target);
    }
    return point;
  }
  std::size_t slash = inside.rfind('/');
  std::string parent = slash == std::string::npos ? std::string() : inside.substr(0, slash);
  std::string name = inside.substr(slash == std::string::npos ? 0 : slash + 1);
  auto parentFd = makeDirsInRoot(rootFd, parent);
  if (!parentFd) {
    return std::move(parentFd).error().context("cannot make the mount point " + volume.target);
  }
  UniqueFd created(::openat(parentFd->get(), name.c_str(),
                            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!created && errno != EEXIST) {
    return Error::fromErrno("cannot make the mount point " + volume.target);
  }
  UniqueFd point(::openat(parentFd->get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  struct stat st {};
  if (!point || ::fstat(point.get(), &st) != 0) {
    return Error::fromErrno("cannot open the mount point " + volume.target);
  }
  if (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)) {
    return Error("cannot mount the host file " + volume.source + " on " + volume.target +
                     ": that is a " + (S_ISDIR(st.st_mode) ? "folder" : "symlink") +
                     " in the rootfs; give a path that is a file or does not exist",
                 EINVAL);
  }
  return point;
}

Status placeVolume(int rootFd, const Volume& volume, const UniqueFd& tree) {
  struct stat st {};
  if (::fstat(tree.get(), &st) != 0) {
    return Error::fromErrno("cannot inspect the volume " + volume.source);
  }
  TANDEM_ASSIGN_OR_RETURN(UniqueFd point, mountPoint(rootFd, volume, S_ISDIR(st.st_mode)));
  if (::move_mount(tree.get(), "", point.get(), "",
                   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
    return Error::fromErrno("cannot mount the volume " + volume.source + " on " + volume.target);
  }
  spdlog::debug("container: volume {} mounted", volume.text());
  return okStatus();
}

}  // namespace

Status checkVolumes(const std::vector<Volume>& volumes, bool userNamespace) {
  for (const Volume& volume : volumes) {
    if (covers(volume.target, "/proc") || covers(volume.target, "/sys")) {
      return Error("-v " + volume.text() + ": a volume may not cover " + volume.target +
                       ", which the runtime mounts and protects itself",
                   EINVAL);
    }
    if (volume.kind == VolumeKind::kDisk && userNamespace) {
      return Error("-v " + volume.text() +
                       ": a container in a user namespace (--uidmap) takes no disk volume, since "
                       "the owners of its files on the host would not map into it; use a bind "
                       "volume, or run the workload as a microVM",
                   EPERM);
    }
  }
  return okStatus();
}

Result<std::vector<UniqueFd>> mountDiskVolumes(const std::vector<Volume>& volumes) {
  std::vector<UniqueFd> mounts;
  for (const Volume& volume : volumes) {
    if (volume.kind == VolumeKind::kDisk) {
      TANDEM_ASSIGN_OR_RETURN(UniqueFd mount,
                              detachedExt4Mount(volume.source, volume.readOnly, "the disk volume"));
      mounts.push_back(std::move(mount));
    }
  }
  return mounts;
}

Status mountVolumes(const std::string& root, const std::vector<Volume>& volumes,
                    std::vector<UniqueFd> diskMounts) {
  if (volumes.empty()) {
    return okStatus();
  }
  TANDEM_ASSIGN_OR_RETURN(UniqueFd rootFd, openPath(root, O_PATH | O_DIRECTORY | O_CLOEXEC));
  auto nextDisk = diskMounts.begin();
  for (const Volume& volume : volumes) {
    if (volume.kind == VolumeKind::kDisk) {
      if (nextDisk == diskMounts.end()) {
        return Error("the runtime sent fewer disk volume mounts than the workload has disk volumes",
                     EPROTO);
      }
      TANDEM_TRY(placeVolume(rootFd.get(), volume, *nextDisk++));
    } else {
      TANDEM_ASSIGN_OR_RETURN(UniqueFd tree, bindTree(volume));
      TANDEM_TRY(placeVolume(rootFd.get(), volume, tree));
    }
  }
  return okStatus();
}

}  // namespace tandem::container

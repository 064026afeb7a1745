#include "container/oci/bundle_rootfs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>

#include "common/file.h"
#include "common/inside_root.h"
#include "common/mount_calls.h"
#include "container/mount_plan.h"
#include "container/oci/mount_options.h"

namespace tandem::container {

namespace {

std::string fdPath(const UniqueFd& fd) {
  return "/proc/self/fd/" + std::to_string(fd.get());
}

std::string parentOf(const std::string& cleaned) {
  auto slash = cleaned.rfind('/');
  return slash == std::string::npos ? std::string() : cleaned.substr(0, slash);
}

std::string lastOf(const std::string& cleaned) {
  auto slash = cleaned.rfind('/');
  return slash == std::string::npos ? cleaned : cleaned.substr(slash + 1);
}

// The mount point for `destination` inside the root, made if missing: a directory, or for a
// bind of a file, an empty file. Returned as an O_PATH descriptor, so the mount lands where
// the resolution inside the root led, not where a path re-walked later might lead.
Result<UniqueFd> mountPointInRoot(int rootFd, const std::string& destination, bool file) {
  std::string cleaned = cleanInRoot(destination);
  if (!file || cleaned.empty()) {
    auto dir = makeDirsInRoot(rootFd, cleaned);
    if (!dir) return std::move(dir).error().context("mount point " + destination);
    return dir;
  }
  TANDEM_ASSIGN_OR_RETURN(UniqueFd parent, makeDirsInRoot(rootFd, parentOf(cleaned)));
  std::string name = lastOf(cleaned);
  UniqueFd created(
      ::openat(parent.get(), name.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!created && errno != EISDIR) {
    return Error::fromErrno("cannot create the mount point " + destination);
  }
  UniqueFd point(::openat(parent.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!point) return Error::fromErrno("cannot open the mount point " + destination);
  return point;
}

Status applyPropagation(const std::string& target, const std::vector<unsigned long>& changes,
                        const std::string& shown) {
  for (unsigned long change : changes) {
    if (::mount(nullptr, target.c_str(), nullptr, change, nullptr) != 0) {
      return Error::fromErrno("cannot change the propagation of " + shown);
    }
  }
  return okStatus();
}

// "cgroup" on v1 or hybrid hosts, as runc mounts it: a tmpfs holding, per hierarchy, a bind of
// the container's own cgroup directory, so the container sees its limits and nothing above.
Status mountCgroupViews(int rootFd, const oci::Mount& mount, const MountOptions& options,
                        const std::vector<CgroupView>& views) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd point, mountPointInRoot(rootFd, mount.destination, false));
  std::string target = fdPath(point);
  unsigned long flags = options.flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
  TANDEM_TRY(mountOrError("tmpfs", target, "tmpfs", flags, "mode=755"));
  // Re-resolved: the descriptor names the directory under the tmpfs, not the tmpfs.
  TANDEM_ASSIGN_OR_RETURN(UniqueFd top, mountPointInRoot(rootFd, mount.destination, false));
  for (const CgroupView& view : views) {
    if (::mkdirat(top.get(), view.name.c_str(), 0755) != 0 && errno != EEXIST) {
      return Error::fromErrno("cannot create " + mount.destination + "/" + view.name);
    }
    std::string sub = fdPath(top) + "/" + view.name;
    TANDEM_TRY(mountOrError(view.hostPath, sub, "", MS_BIND | MS_REC, ""));
    if (options.flags & MS_RDONLY) {
      TANDEM_TRY(remountReadOnly(sub, flags));
    }
    // "cpu,cpuacct" is also reached as "cpu" and "cpuacct", as on the host.
    if (view.name.find(',') != std::string::npos) {
      std::string names = view.name;
      for (std::size_t start = 0; start <= names.size();) {
        std::size_t comma = std::min(names.find(',', start), names.size());
        std::string alias = names.substr(start, comma - start);
        if (::symlinkat(view.name.c_str(), top.get(), alias.c_str()) != 0 && errno != EEXIST) {
          return Error::fromErrno("cannot link " + mount.destination + "/" + alias);
        }
        start = comma + 1;
      }
    }
  }
  if (options.flags & MS_RDONLY) {
    if (::mount(nullptr, fdPath(top).c_str(), nullptr, MS_REMOUNT | MS_RDONLY | flags, nullptr) !=
        0) {
      return Error::fromErrno("cannot make " + mount.destination + " read-only");
    }
  }
  return okStatus();
}

Status mountInRoot(int rootFd, const oci::Mount& mount, const BundleRootOptions& root) {
  MountOptions options = parseMountOptions(mount);
  if (mount.type == "cgroup" && !root.cgroups.empty()) {
    return mountCgroupViews(rootFd, mount, options, root.cgroups);
  }
  bool file = false;
  std::string source = mount.source;
  if (options.bind) {
    struct stat st {};
    if (::stat(source.c_str(), &st) != 0) {
      return Error::fromErrno("cannot bind " + source + " on " + mount.destination);
    }
    file = !S_ISDIR(st.st_mode);
  }
  TANDEM_ASSIGN_OR_RETURN(UniqueFd point, mountPointInRoot(rootFd, mount.destination, file));
  std::string target = fdPath(point);
  std::string type = mount.type == "cgroup" ? "cgroup2" : mount.type;
  if (options.bind) {
    TANDEM_TRY(mountOrError(source, target, "", options.flags & (MS_BIND | MS_REC), ""));
    if (options.bindRemountFlags != 0) {
      // Re-resolved, so the remount reaches the bind just made and not what it covers.
      TANDEM_ASSIGN_OR_RETURN(UniqueFd bound, mountPointInRoot(rootFd, mount.destination, file));
      if (::mount(nullptr, fdPath(bound).c_str(), nullptr,
                  MS_BIND | MS_REMOUNT | options.bindRemountFlags, nullptr) != 0) {
        return Error::fromErrno("cannot apply the options of the bind " + mount.destination);
      }
    }
  } else if (auto status = mountOrError(source, target, type, options.flags, options.data);
             !status) {
    return std::move(status).error().context("mount " + mount.destination);
  }
  if (!options.propagation.empty()) {
    TANDEM_ASSIGN_OR_RETURN(UniqueFd mounted, mountPointInRoot(rootFd, mount.destination, file));
    TANDEM_TRY(applyPropagation(fdPath(mounted), options.propagation, mount.destination));
  }
  return okStatus();
}

Status makeNode(int rootFd, const oci::Device& device) {
  std::string cleaned = cleanInRoot(device.path);
  TANDEM_ASSIGN_OR_RETURN(UniqueFd parent, makeDirsInRoot(rootFd, parentOf(cleaned)));
  std::string name = lastOf(cleaned);
  mode_t kind = device.type == 'b' ? S_IFBLK : device.type == 'p' ? S_IFIFO : S_IFCHR;
  mode_t mode = device.fileMode.value_or(0666) & 07777;
  ::unlinkat(parent.get(), name.c_str(), 0);
  dev_t number = makedev(static_cast<unsigned>(device.major), static_cast<unsigned>(device.minor));
  if (::mknodat(parent.get(), name.c_str(), kind | mode, number) != 0) {
    return Error::fromErrno("cannot create device " + device.path);
  }
  // The mode exactly as asked, whatever the umask; the owner as asked.
  if (::fchmodat(parent.get(), name.c_str(), mode, 0) != 0 ||
      ::fchownat(parent.get(), name.c_str(), device.uid.value_or(0), device.gid.value_or(0),
                 AT_SYMLINK_NOFOLLOW) != 0) {
    return Error::fromErrno("cannot set the mode or owner of device " + device.path);
  }
  return okStatus();
}

bool bindsHostDev(const oci::Spec& spec) {
  return std::any_of(spec.mounts.begin(), spec.mounts.end(), [](const oci::Mount& m) {
    return cleanInRoot(m.destination) == "dev" && parseMountOptions(m).bind;
  });
}

Status populateDev(int rootFd, const oci::Spec& spec, const BundleRootOptions& root) {
  for (const DeviceNode& node : defaultDevices()) {
    bool given = std::any_of(
        spec.linux.devices.begin(), spec.linux.devices.end(),
        [&](const oci::Device& d) { return cleanInRoot(d.path) == cleanInRoot(node.path); });
    if (given) continue;
    if (root.userNamespace) {
      TANDEM_ASSIGN_OR_RETURN(UniqueFd point, mountPointInRoot(rootFd, node.path, true));
      TANDEM_TRY(mountOrError(node.path, fdPath(point), "", MS_BIND, ""));
    } else {
      TANDEM_TRY(
          makeNode(rootFd, oci::Device{node.path, 'c', node.major, node.minor, 0666, {}, {}}));
    }
  }
  for (const oci::Device& device : spec.linux.devices) {
    TANDEM_TRY(makeNode(rootFd, device));
  }
  TANDEM_ASSIGN_OR_RETURN(UniqueFd dev, makeDirsInRoot(rootFd, "dev"));
  for (const Symlink& link : devSymlinks()) {
    std::string name = lastOf(cleanInRoot(link.path));
    if (::symlinkat(link.target.c_str(), dev.get(), name.c_str()) != 0 && errno != EEXIST) {
      return Error::fromErrno("cannot create the link " + link.path);
    }
  }
  // /dev/ptmx reaches the container's own devpts instance, as runc makes it.
  ::unlinkat(dev.get(), "ptmx", 0);
  if (::symlinkat("pts/ptmx", dev.get(), "ptmx") != 0) {
    return Error::fromErrno("cannot create the link /dev/ptmx");
  }
  return okStatus();
}

}  // namespace

std::string cleanInRoot(const std::string& path) {
  std::vector<std::string> parts;
  for (std::size_t start = 0; start <= path.size();) {
    std::size_t slash = std::min(path.find('/', start), path.size());
    std::string part = path.substr(start, slash - start);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = slash + 1;
  }
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : "/") + part;
  return out;
}

Status buildBundleRoot(const oci::Spec& spec, const BundleRootOptions& options) {
  // The root becomes a mount point of its own, which pivot_root requires.
  TANDEM_TRY(mountOrError(options.rootfs, options.rootfs, "", MS_BIND | MS_REC, ""));
  TANDEM_ASSIGN_OR_RETURN(UniqueFd rootFd,
                          openPath(options.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC));
  for (const oci::Mount& mount : spec.mounts) {
    TANDEM_TRY(mountInRoot(rootFd.get(), mount, options));
  }
  if (!bindsHostDev(spec)) {
    TANDEM_TRY(populateDev(rootFd.get(), spec, options));
  }
  return okStatus();
}

Status finishBundleRoot(const oci::Spec& spec) {
  // Before /proc/sys becomes read-only among the read-only paths.
  for (const auto& [key, value] : spec.linux.sysctl) {
    std::string path = "/proc/sys/" + key;
    std::replace(path.begin() + 10, path.end(), '.', '/');
    if (auto status = writeExistingFile(path, value); !status) {
      return std::move(status).error().context("sysctl " + key);
    }
  }
  TANDEM_TRY(protectPaths(spec.linux.maskedPaths, spec.linux.readonlyPaths));
  if (spec.rootReadonly) {
    TANDEM_TRY(remountReadOnly("/", 0));
  }
  return okStatus();
}

}  // namespace tandem::container

#include "tools/guest-init/guest_container.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>

#include "common/cgroup_limits.h"
#include "common/file.h"
#include "common/unique_fd.h"

namespace tandem::guest_init {
namespace {

constexpr const char* kCgroupRoot = "/sys/fs/cgroup";
constexpr const char* kContainersFolder = "/run/tandem/containers";
constexpr std::size_t kMaxIdLength = 128;

// The devices a container sees, bound from the guest's devtmpfs; the rest of it (the disks,
// the consoles, the status port's) stays the guest's.
constexpr const char* kDevices[] = {"null", "zero", "full", "random", "urandom", "tty"};

Status mountAt(const char* source, const std::string& target, const char* type, unsigned long flags,
               const char* options) {
  if (::mkdir(target.c_str(), 0755) != 0 && errno != EEXIST) {
    return Error::fromErrno("cannot create the mount point " + target +
                            " (a read-only root must have it)");
  }
  if (::mount(source, target.c_str(), type, flags, options) != 0) {
    return Error::fromErrno(std::string("cannot mount ") + (type ? type : source) + " on " +
                            target);
  }
  return okStatus();
}

Status ensureCgroupHierarchy() {
  std::string root(kCgroupRoot);
  if (!pathExists(root + "/cgroup.controllers")) {
    if (::mount("cgroup2", kCgroupRoot, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) !=
            0 &&
        errno != EBUSY) {
      return Error::fromErrno(
          "cannot mount cgroup2 on /sys/fs/cgroup in the guest (its kernel needs CONFIG_CGROUPS)");
    }
  }
  // A controller the kernel lacks costs only the limits that need it, which then fail by name.
  for (const char* controller : {"+memory", "+pids", "+cpu"}) {
    static_cast<void>(writeExistingFile(root + "/cgroup.subtree_control", controller));
  }
  return okStatus();
}

Status applyLimits(const std::string& cgroup, const ResourceLimits& limits) {
  for (const CgroupWrite& write : v2LimitWrites(limits)) {
    Status written = writeExistingFile(cgroup + "/" + write.file, write.value);
    if (!written && write.optional && written.error().errnum() == ENOENT) continue;
    if (!written) {
      return std::move(written).error().context("the guest kernel refused the limit " + write.file +
                                                "=" + write.value);
    }
  }
  return okStatus();
}

Status bindDevices(const std::string& dev) {
  for (const char* name : kDevices) {
    std::string source = std::string("/dev/") + name;
    if (!pathExists(source)) continue;
    std::string target = dev + "/" + name;
    TANDEM_TRY(writeFile(target, "", 0666));
    if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return Error::fromErrno("cannot bind " + source + " into the container");
    }
  }
  const std::pair<const char*, const char*> links[] = {{"/proc/self/fd", "fd"},
                                                       {"/proc/self/fd/0", "stdin"},
                                                       {"/proc/self/fd/1", "stdout"},
                                                       {"/proc/self/fd/2", "stderr"}};
  for (const auto& [to, name] : links) {
    if (::symlink(to, (dev + "/" + name).c_str()) != 0) {
      return Error::fromErrno("cannot create /dev/" + std::string(name) + " in the container");
    }
  }
  return okStatus();
}

Result<UniqueFd> openNamespace(const std::string& proc, const char* name) {
  return openPath(proc + "/ns/" + name, O_RDONLY | O_CLOEXEC);
}

// A cgroup file's one number; "max" reads as 0 (no limit).
Result<std::uint64_t> cgroupNumber(const std::string& path) {
  TANDEM_ASSIGN_OR_RETURN(std::string text, readFile(path));
  if (text.starts_with("max")) return std::uint64_t{0};
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc()) return Error("cannot read a number in " + path, EPROTO);
  return value;
}

}  // namespace

Status checkContainerId(const std::string& id) {
  bool fits = !id.empty() && id.size() <= kMaxIdLength && id.front() != '.' &&
              id.find_first_not_of(
                  "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "_.-") == std::string::npos;
  if (!fits) {
    return Error("\"" + id + "\" cannot be a container's id (letters, digits, '_', '.', '-')",
                 EINVAL);
  }
  return okStatus();
}

std::string containerCgroup(const std::string& id) {
  return std::string(kCgroupRoot) + "/" + id;
}

std::string containerPidFile(const std::string& id) {
  return std::string(kContainersFolder) + "/" + id + ".pid";
}

std::string overlayOptions(const std::string& lower, const std::string& upper,
                           const std::string& work) {
  return "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work;
}

Result<GuestContainer> GuestContainer::prepare(const Workload& workload) {
  TANDEM_TRY(checkContainerId(workload.id));
  const std::string& id = workload.id;
  if (workload.rootfs.empty() || workload.rootfs.front() != '/' || !isDirectory(workload.rootfs)) {
    return Error("the root of container " + id + " (\"" + workload.rootfs +
                     "\") is not mounted in this microVM: it was started without that image's "
                     "disk",
                 ENOENT);
  }
  TANDEM_TRY(ensureCgroupHierarchy());
  std::string cgroup = containerCgroup(id);
  if (::mkdir(cgroup.c_str(), 0755) != 0) {
    return Error::fromErrno("cannot create the cgroup " + cgroup +
                            (errno == EEXIST ? " (a container with this id runs already)" : ""));
  }
  TANDEM_TRY(makeDirectories(kContainersFolder));
  // Owns the cgroup from here, and takes it down on any failure below.
  GuestContainer container(id, std::string(kContainersFolder) + "/" + id);
  TANDEM_TRY(applyLimits(cgroup, workload.limits));
  TANDEM_TRY(writeExistingFile(cgroup + "/cgroup.procs", "0"));
  // The cgroup namespace roots the container's view at its own cgroup, as docker's default on
  // cgroup v2 does.
  if (::unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWCGROUP) != 0) {
    return Error::fromErrno("cannot create the namespaces of container " + id +
                            " (the guest kernel needs CONFIG_NAMESPACES)");
  }
  // The mounts below stay in this namespace, and go when its last process does.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Error::fromErrno("cannot make the container's mounts private");
  }
  const std::string& folder = container.folder_;
  TANDEM_TRY(mountAt("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"));
  std::string root = folder + "/root";
  TANDEM_TRY(makeDirectories(root));
  if (workload.readOnlyRootfs) {
    if (::mount(workload.rootfs.c_str(), root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0 ||
        ::mount(nullptr, root.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
      return Error::fromErrno("cannot mount " + workload.rootfs + " read-only as the root");
    }
  } else {
    TANDEM_TRY(makeDirectories(folder + "/upper"));
    TANDEM_TRY(makeDirectories(folder + "/work"));
    std::string options = overlayOptions(workload.rootfs, folder + "/upper", folder + "/work");
    if (::mount("overlay", root.c_str(), "overlay", 0, options.c_str()) != 0) {
      return Error::fromErrno("cannot mount the container's root (overlay " + options +
                              "; the guest kernel needs CONFIG_OVERLAY_FS)");
    }
  }
  return container;
}

GuestContainer::GuestContainer(GuestContainer&& other) noexcept
    : id_(std::move(other.id_)), folder_(std::move(other.folder_)) {
  other.id_.clear();
}

GuestContainer::~GuestContainer() {
  if (id_.empty()) return;
  ::unlink(containerPidFile(id_).c_str());
  ::umount2(folder_.c_str(), MNT_DETACH);
  ::rmdir(folder_.c_str());
  // Out of the cgroup first: one holding a process cannot be removed.
  static_cast<void>(writeExistingFile(std::string(kCgroupRoot) + "/cgroup.procs", "0"));
  ::rmdir(containerCgroup(id_).c_str());
}

Status GuestContainer::enter(const Workload& workload) const {
  std::string root = folder_ + "/root";
  TANDEM_TRY(mountAt("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr));
  TANDEM_TRY(mountAt("sysfs", root + "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                     nullptr));
  // Its own cgroup's files, read-only: a workload reads its limits there.
  TANDEM_TRY(mountAt("cgroup2", root + "/sys/fs/cgroup", "cgroup2",
                     MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr));
  TANDEM_TRY(mountAt("tmpfs", root + "/dev", "tmpfs", MS_NOSUID, "mode=0755"));
  TANDEM_TRY(bindDevices(root + "/dev"));
  TANDEM_TRY(mountAt("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
  if (::chdir(root.c_str()) != 0 || ::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0 ||
      ::chroot(".") != 0 || ::chdir("/") != 0) {
    return Error::fromErrno("cannot make " + root + " the container's root");
  }
  if (!workload.hostname.empty() &&
      ::sethostname(workload.hostname.data(), workload.hostname.size()) != 0) {
    return Error::fromErrno("cannot set the container's hostname to \"" + workload.hostname + "\"");
  }
  return okStatus();
}

Status GuestContainer::started(pid_t pid) const {
  return writeFile(containerPidFile(id_), std::to_string(pid) + "\n");
}

Status joinContainer(const std::string& id) {
  TANDEM_TRY(checkContainerId(id));
  auto text = readFile(containerPidFile(id));
  pid_t pid = 0;
  if (text) {
    auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), pid);
    if (error != std::errc()) pid = 0;
  }
  if (pid <= 0 || !pathExists("/proc/" + std::to_string(pid))) {
    return Error("no container " + id + " runs in this microVM", ESRCH);
  }
  std::string proc = "/proc/" + std::to_string(pid);
  TANDEM_ASSIGN_OR_RETURN(UniqueFd root,
                          openPath(proc + "/root", O_PATH | O_DIRECTORY | O_CLOEXEC));
  std::pair<const char*, int> kinds[] = {{"cgroup", CLONE_NEWCGROUP},
                                         {"ipc", CLONE_NEWIPC},
                                         {"uts", CLONE_NEWUTS},
                                         {"pid", CLONE_NEWPID},
                                         {"mnt", CLONE_NEWNS}};
  std::vector<UniqueFd> namespaces;
  for (const auto& [name, type] : kinds) {
    TANDEM_ASSIGN_OR_RETURN(UniqueFd ns, openNamespace(proc, name));
    namespaces.push_back(std::move(ns));
  }
  TANDEM_TRY(writeExistingFile(containerCgroup(id) + "/cgroup.procs", "0"));
  for (std::size_t i = 0; i < namespaces.size(); ++i) {
    if (::setns(namespaces[i].get(), kinds[i].second) != 0) {
      return Error::fromErrno(std::string("cannot join the ") + kinds[i].first +
                              " namespace of container " + id);
    }
  }
  // Joining the mount namespace left this process at its root, under the container's.
  if (::fchdir(root.get()) != 0 || ::chroot(".") != 0) {
    return Error::fromErrno("cannot enter the root of container " + id);
  }
  return okStatus();
}

Result<guest::ContainerUsage> containerUsage(const std::string& id) {
  TANDEM_TRY(checkContainerId(id));
  std::string cgroup = containerCgroup(id);
  if (!isDirectory(cgroup)) {
    return Error("no container " + id + " runs in this microVM", ESRCH);
  }
  guest::ContainerUsage usage;
  TANDEM_ASSIGN_OR_RETURN(std::string cpu, readFile(cgroup + "/cpu.stat"));
  constexpr std::string_view kUsage = "usage_usec ";
  if (auto at = cpu.find(kUsage); at != std::string::npos) {
    std::uint64_t micros = 0;
    std::from_chars(cpu.data() + at + kUsage.size(), cpu.data() + cpu.size(), micros);
    usage.cpuNanos = micros * 1000;
  }
  TANDEM_ASSIGN_OR_RETURN(usage.memoryBytes, cgroupNumber(cgroup + "/memory.current"));
  TANDEM_ASSIGN_OR_RETURN(usage.memoryLimitBytes, cgroupNumber(cgroup + "/memory.max"));
  TANDEM_ASSIGN_OR_RETURN(usage.processes, cgroupNumber(cgroup + "/pids.current"));
  return usage;
}

}  // namespace tandem::guest_init

#include "common/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "common/cgroup_limits.h"
#include "common/device_rules.h"
#include "common/file.h"
#include "common/log.h"

namespace tandem {

namespace {

constexpr const char* kParentName = "tandem";

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

// Reads "key value" lines, as memory.events and memory.oom_control hold them.
std::uint64_t keyedValue(const std::string& content, const std::string& key) {
  std::istringstream lines(content);
  std::string name;
  std::uint64_t value = 0;
  while (lines >> name >> value) {
    if (name == key) {
      return value;
    }
  }
  return 0;
}

std::uint64_t parseNumber(const std::string& text) {
  std::uint64_t value = 0;
  std::string trimmed = trim(text);
  std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), value);
  return value;
}

Status makeCgroupDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return Error::fromErrno("cannot create cgroup " + path);
  }
  return okStatus();
}

// A v1 cpuset cgroup starts with no CPUs and no memory nodes, and refuses tasks until it has
// some; inherit the parent's.
Status inheritCpuset(const std::string& parent, const std::string& child) {
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    TANDEM_ASSIGN_OR_RETURN(std::string current, readFile(child + "/" + file));
    if (!trim(current).empty()) {
      continue;
    }
    TANDEM_ASSIGN_OR_RETURN(std::string inherited, readFile(parent + "/" + file));
    TANDEM_TRY(writeExistingFile(child + "/" + file, trim(inherited)));
  }
  return okStatus();
}

// cgroup v2 hands a controller to children only when every ancestor lists it in
// cgroup.subtree_control.
Status enableV2Controllers(const std::string& directory) {
  TANDEM_ASSIGN_OR_RETURN(std::string available, readFile(directory + "/cgroup.controllers"));
  TANDEM_ASSIGN_OR_RETURN(std::string enabled, readFile(directory + "/cgroup.subtree_control"));
  std::istringstream names(available);
  std::string name;
  std::string request;
  while (names >> name) {
    bool wanted =
        name == "cpu" || name == "memory" || name == "pids" || name == "cpuset" || name == "io";
    if (wanted && (" " + trim(enabled) + " ").find(" " + name + " ") == std::string::npos) {
      request += (request.empty() ? "+" : " +") + name;
    }
  }
  if (request.empty()) {
    return okStatus();
  }
  auto status = writeExistingFile(directory + "/cgroup.subtree_control", request);
  if (!status) {
    return std::move(status).error().context("cannot enable cgroup controllers (" + request +
                                             ") in " + directory +
                                             "; is a process attached to that cgroup directly?");
  }
  return okStatus();
}

}  // namespace

Result<Cgroup> Cgroup::create(const CgroupMounts& mounts, const std::string& name,
                              const ResourceLimits& limits,
                              const std::vector<DeviceRule>& devices) {
  return createAt(mounts, std::string(kParentName) + "/" + name, limits, devices);
}

Result<UniqueFd> Cgroup::openForClone() const {
  if (layout_ != CgroupLayout::kV2 || directories_.size() != 1) {
    return UniqueFd();
  }
  return openPath(directories_.front().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

Result<Cgroup> Cgroup::createAt(const CgroupMounts& mounts, const std::string& path,
                                const ResourceLimits& limits,
                                const std::vector<DeviceRule>& devices) {
  auto slash = path.rfind('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  std::vector<std::string> ancestors;
  for (std::size_t at = path.find('/'); at != std::string::npos; at = path.find('/', at + 1)) {
    ancestors.push_back(path.substr(0, at));
  }
  Cgroup cgroup(mounts.layout, name);
  bool useV2 = mounts.layout == CgroupLayout::kV2;
  if (mounts.layout != CgroupLayout::kV1) {
    // In the hybrid layout the unified tree carries no limits, but joining it keeps the
    // workload's cgroup namespace and /proc/self/cgroup consistent, as runc does.
    if (useV2) {
      TANDEM_TRY(enableV2Controllers(mounts.unified));
    }
    for (const std::string& ancestor : ancestors) {
      std::string parent = mounts.unified + "/" + ancestor;
      TANDEM_TRY(makeCgroupDirectory(parent));
      if (useV2) {
        TANDEM_TRY(enableV2Controllers(parent));
      }
    }
    std::string directory = mounts.unified + "/" + path;
    if (::mkdir(directory.c_str(), 0755) != 0) {
      return Error::fromErrno("cannot create cgroup " + directory);
    }
    cgroup.directories_.push_back({directory, true, {}});
  }
  if (mounts.layout != CgroupLayout::kV2) {
    std::vector<std::string> hierarchies;
    for (const auto& [controller, mountPoint] : mounts.v1) {
      if (!contains(hierarchies, mountPoint)) {
        hierarchies.push_back(mountPoint);
      }
    }
    for (const auto& mountPoint : hierarchies) {
      Directory directory{mountPoint + "/" + path, false, {}};
      for (const auto& [controller, point] : mounts.v1) {
        if (point == mountPoint) {
          directory.controllers.push_back(controller);
        }
      }
      bool cpuset = contains(directory.controllers, "cpuset");
      std::string parent = mountPoint;
      for (const std::string& ancestor : ancestors) {
        std::string next = mountPoint + "/" + ancestor;
        TANDEM_TRY(makeCgroupDirectory(next));
        if (cpuset) {
          TANDEM_TRY(inheritCpuset(parent, next));
        }
        parent = next;
      }
      if (::mkdir(directory.path.c_str(), 0755) != 0) {
        return Error::fromErrno("cannot create cgroup " + directory.path);
      }
      cgroup.directories_.push_back(directory);
      if (cpuset) {
        TANDEM_TRY(inheritCpuset(parent, directory.path));
      }
    }
    TANDEM_TRY(cgroup.applyWrites(v1DeviceRules(devices)));
    TANDEM_TRY(cgroup.applyWrites(v1LimitWrites(limits)));
  } else {
    TANDEM_TRY(attachDeviceFilter(cgroup.directories_.front().path, deviceFilterProgram(devices)));
    TANDEM_TRY(cgroup.applyWrites(v2LimitWrites(limits)));
  }
  return cgroup;
}

Cgroup Cgroup::adopt(const CgroupMounts& mounts, const std::string& name) {
  return adoptAt(mounts, std::string(kParentName) + "/" + name);
}

Cgroup Cgroup::adoptAt(const CgroupMounts& mounts, const std::string& path) {
  auto slash = path.rfind('/');
  Cgroup cgroup(mounts.layout, slash == std::string::npos ? path : path.substr(slash + 1));
  if (mounts.layout != CgroupLayout::kV1) {
    std::string directory = mounts.unified + "/" + path;
    if (isDirectory(directory)) {
      cgroup.directories_.push_back({directory, true, {}});
    }
  }
  if (mounts.layout != CgroupLayout::kV2) {
    for (const auto& [controller, mountPoint] : mounts.v1) {
      std::string directory = mountPoint + "/" + path;
      auto known = std::find_if(cgroup.directories_.begin(), cgroup.directories_.end(),
                                [&](const Directory& d) { return d.path == directory; });
      if (known != cgroup.directories_.end()) {
        known->controllers.push_back(controller);
      } else if (isDirectory(directory)) {
        cgroup.directories_.push_back({directory, false, {controller}});
      }
    }
  }
  return cgroup;
}

Cgroup::Cgroup(Cgroup&& other) noexcept
    : layout_(other.layout_),
      name_(std::move(other.name_)),
      directories_(std::exchange(other.directories_, {})) {}

Cgroup& Cgroup::operator=(Cgroup&& other) noexcept {
  if (this != &other) {
    (void)remove();
    layout_ = other.layout_;
    name_ = std::move(other.name_);
    directories_ = std::exchange(other.directories_, {});
  }
  return *this;
}

Cgroup::~Cgroup() {
  if (auto status = remove(); !status) {
    spdlog::warn("{}", status.error().describe());
  }
}

const Cgroup::Directory* Cgroup::directoryFor(const std::string& controller) const {
  for (const auto& directory : directories_) {
    if (directory.v2 ? layout_ == CgroupLayout::kV2 : contains(directory.controllers, controller)) {
      return &directory;
    }
  }
  return nullptr;
}

const Cgroup::Directory* Cgroup::processListDirectory() const {
  for (const char* controller : {"pids", "memory", "freezer", "cpu"}) {
    if (const Directory* directory = directoryFor(controller)) {
      return directory;
    }
  }
  return directories_.empty() ? nullptr : &directories_.front();
}

Status Cgroup::applyWrites(const std::vector<CgroupWrite>& writes) const {
  for (const auto& write : writes) {
    const Directory* directory = directoryFor(write.controller);
    std::string path = directory ? directory->path + "/" + write.file : write.file;
    if (directory == nullptr || !pathExists(path)) {
      if (write.optional) {
        spdlog::debug("skipping {}: the {} controller or file is not available", write.file,
                      write.controller);
        continue;
      }
      return Error("cannot set " + write.file + " = " + write.value + ": the " + write.controller +
                   " cgroup controller is not available on this host (" + toString(layout_) +
                   " layout)");
    }
    auto status = writeExistingFile(path, write.value);
    if (!status) {
      return std::move(status).error().context("cannot set cgroup limit " + write.file + " to " +
                                               write.value);
    }
  }
  return okStatus();
}

Status Cgroup::addProcess(pid_t pid) const {
  std::string text = std::to_string(pid);
  for (const auto& directory : directories_) {
    TANDEM_TRY(writeExistingFile(directory.path + "/cgroup.procs", text));
  }
  return okStatus();
}

Result<bool> Cgroup::oomKilled() const {
  const Directory* directory = directoryFor("memory");
  if (directory == nullptr) {
    return false;
  }
  std::string file = directory->path + (directory->v2 ? "/memory.events" : "/memory.oom_control");
  TANDEM_ASSIGN_OR_RETURN(std::string content, readFile(file));
  return keyedValue(content, "oom_kill") > 0;
}

Result<CgroupUsage> Cgroup::usage() const {
  CgroupUsage usage;
  if (const Directory* memory = directoryFor("memory")) {
    auto read = [&](const char* v2File, const char* v1File) -> std::uint64_t {
      auto content = readFile(memory->path + "/" + (memory->v2 ? v2File : v1File));
      return content ? parseNumber(*content) : 0;
    };
    usage.memoryBytes = read("memory.current", "memory.usage_in_bytes");
    usage.memoryPeakBytes = read("memory.peak", "memory.max_usage_in_bytes");
  }
  if (const Directory* cpu = directoryFor(layout_ == CgroupLayout::kV2 ? "cpu" : "cpuacct")) {
    if (cpu->v2) {
      auto content = readFile(cpu->path + "/cpu.stat");
      usage.cpuMicros = content ? keyedValue(*content, "usage_usec") : 0;
    } else {
      auto content = readFile(cpu->path + "/cpuacct.usage");
      usage.cpuMicros = content ? parseNumber(*content) / 1000 : 0;
    }
  }
  if (const Directory* pids = directoryFor("pids")) {
    auto content = readFile(pids->path + "/pids.current");
    usage.pids = content ? parseNumber(*content) : 0;
  }
  return usage;
}

Status Cgroup::killAll() const {
  const Directory* directory = processListDirectory();
  if (directory == nullptr) {
    return okStatus();
  }
  if (directory->v2 && pathExists(directory->path + "/cgroup.kill")) {
    (void)writeExistingFile(directory->path + "/cgroup.kill", "1");
  }
  // A fork racing the kill lands a new pid in the list; repeat until it stays empty, bounded so a
  // stuck (D-state) process cannot hang the runtime forever.
  for (int round = 0; round < 200; ++round) {
    auto procs = readFile(directory->path + "/cgroup.procs");
    if (!procs) {
      return okStatus();
    }
    std::istringstream pids(*procs);
    pid_t pid = 0;
    bool any = false;
    while (pids >> pid) {
      any = true;
      ::kill(pid, SIGKILL);
    }
    if (!any) {
      return okStatus();
    }
    timespec pause{0, 5'000'000};
    ::nanosleep(&pause, nullptr);
  }
  return Error("processes in cgroup " + directory->path + " survived SIGKILL for a second");
}

Status Cgroup::remove() {
  if (directories_.empty()) {
    return okStatus();
  }
  Status killed = killAll();
  std::vector<Directory> failed;
  std::string problem;
  for (auto& directory : directories_) {
    // A process that was just killed leaves its cgroup only once it is reaped; retry briefly.
    bool removed = false;
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (::rmdir(directory.path.c_str()) == 0 || errno == ENOENT) {
        removed = true;
        break;
      }
      if (errno != EBUSY) {
        break;
      }
      timespec pause{0, 2'000'000};
      ::nanosleep(&pause, nullptr);
    }
    if (!removed) {
      problem = Error::fromErrno("cannot remove cgroup " + directory.path).describe();
      failed.push_back(std::move(directory));
    }
  }
  directories_ = std::move(failed);
  if (!directories_.empty()) {
    return Error(problem);
  }
  return killed;
}

}  // namespace tandem

// An owned cgroup for one workload, across whichever hierarchies the host's layout has. It is
// created with its limits before the workload execs and removed, with anything left in it
// killed, when the owner is done.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/cgroup_layout.h"
#include "common/device_rules.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "common/workload.h"

namespace tandem {

struct CgroupUsage {
  std::uint64_t memoryBytes = 0;
  std::uint64_t memoryPeakBytes = 0;
  std::uint64_t cpuMicros = 0;
  std::uint64_t pids = 0;
};

class Cgroup {
 public:
  // Creates `<hierarchy>/tandem/<name>` in every hierarchy the layout uses and applies `limits`,
  // allowing the devices `devices` lists. On failure nothing is left behind.
  static Result<Cgroup> create(const CgroupMounts& mounts, const std::string& name,
                               const ResourceLimits& limits,
                               const std::vector<DeviceRule>& devices = defaultDeviceRules());

  // Creates `<hierarchy>/<path>` (and the folders above it) in every hierarchy, as an OCI
  // bundle's cgroupsPath asks, allowing exactly the devices `devices` lists.
  static Result<Cgroup> createAt(const CgroupMounts& mounts, const std::string& path,
                                 const ResourceLimits& limits,
                                 const std::vector<DeviceRule>& devices);

  // Takes ownership of whatever directories of `name` exist, e.g. to clean up after a runtime
  // that died before it could.
  static Cgroup adopt(const CgroupMounts& mounts, const std::string& name);
  // The same for `<hierarchy>/<path>`.
  static Cgroup adoptAt(const CgroupMounts& mounts, const std::string& path);

  Cgroup(Cgroup&& other) noexcept;
  Cgroup& operator=(Cgroup&& other) noexcept;
  Cgroup(const Cgroup&) = delete;
  Cgroup& operator=(const Cgroup&) = delete;
  ~Cgroup();

  Status addProcess(pid_t pid) const;

  // On a pure cgroup v2 host, the cgroup's folder open for clone3's CLONE_INTO_CGROUP, which
  // starts a process inside it; elsewhere an empty descriptor, and addProcess after the start.
  Result<UniqueFd> openForClone() const;

  // Whether the kernel's OOM killer has killed a process of this cgroup.
  Result<bool> oomKilled() const;

  Result<CgroupUsage> usage() const;

  // Kills every process in the cgroup and waits, briefly, until it is empty.
  Status killAll() const;

  // Kills what is left and removes every directory; idempotent.
  Status remove();

  // Forgets the directories without removing them, for a process that inherited a copy of this
  // object and must not clean up on its own exit.
  void release() { directories_.clear(); }

  CgroupLayout layout() const { return layout_; }
  const std::string& name() const { return name_; }

  struct Directory {
    std::string path;
    bool v2 = false;
    std::vector<std::string> controllers;  // for v1: the controllers of this hierarchy
  };
  const std::vector<Directory>& directories() const { return directories_; }

 private:
  Cgroup(CgroupLayout layout, std::string name) : layout_(layout), name_(std::move(name)) {}

  Status applyWrites(const std::vector<struct CgroupWrite>& writes) const;
  const Directory* directoryFor(const std::string& controller) const;
  // The directory whose cgroup.procs lists every process of the workload.
  const Directory* processListDirectory() const;

  CgroupLayout layout_;
  std::string name_;
  std::vector<Directory> directories_;
};

}  // namespace tandem

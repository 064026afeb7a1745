// What the container's filesystem is made of, as data: mounts, device nodes, links, masked and
// read-only paths. Pure, so the plan is unit-tested without root; rootfs.cpp carries it out.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"

namespace tandem::container {

struct MountEntry {
  std::string source;
  std::string target;  // inside the new root, absolute
  std::string fstype;  // empty for a bind mount
  unsigned long flags = 0;
  std::string data;
};

struct DeviceNode {
  std::string path;  // inside the new root
  unsigned major = 0;
  unsigned minor = 0;
};

struct Symlink {
  std::string target;
  std::string path;
};

struct MountPlanOptions {
  // Without a network namespace of its own, sysfs cannot be mounted fresh for the container
  // and the host's is bound read-only instead.
  bool ownNetworkNamespace = true;
  bool ownIpcNamespace = true;
};

// Mounts made under the new root before pivot_root, in order.
std::vector<MountEntry> specialMounts(const MountPlanOptions& options);

// The minimal /dev: null, zero, full, random, urandom, tty.
const std::vector<DeviceNode>& defaultDevices();
const std::vector<Symlink>& devSymlinks();

// runc's defaults: paths hidden behind /dev/null or an empty read-only tmpfs, and paths made
// read-only, so the container cannot read kernel secrets or reconfigure the host.
const std::vector<std::string>& maskedPaths();
const std::vector<std::string>& readOnlyPaths();

// The overlayfs option string for these layers; `upper` empty makes a read-only overlay.
// Fails for paths overlayfs cannot take (',' or ':' in them, or relative paths).
Result<std::string> overlayOptions(const std::vector<std::string>& lowers, const std::string& upper,
                                   const std::string& work);

}  // namespace tandem::container

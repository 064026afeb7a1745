// An OCI bundle's root filesystem, built as its config.json says, inside the container's own
// mount namespace: the root bound on itself, each of config.json's mounts in order (every
// destination resolved inside the root, so no symlink in the image leads a mount out), /dev's
// nodes and links, and afterwards the pivot, masked and read-only paths and sysctls.
#pragma once

#include <string>
#include <vector>

#include "common/oci/runtime_spec.h"
#include "common/result.h"

namespace tandem::container {

// A v1 hierarchy (or the hybrid layout's unified tree) as a "cgroup" mount shows it: the
// folder name under the mount's destination and the container's own directory on the host.
struct CgroupView {
  std::string name;      // "memory", "cpu,cpuacct", "unified"...
  std::string hostPath;  // the container's cgroup in that hierarchy
};

struct BundleRootOptions {
  std::string rootfs;               // absolute
  std::vector<CgroupView> cgroups;  // empty on pure cgroup v2: "cgroup" mounts get cgroup2
  bool userNamespace = false;
};

// config.json's "/a/../b/" as the cleaned relative path "b"; "" for the root.
std::string cleanInRoot(const std::string& path);

// Mounts, devices and /dev links under `options.rootfs`, before pivot_root. The caller has
// made the process's mounts private (rootfsPropagation).
Status buildBundleRoot(const oci::Spec& spec, const BundleRootOptions& options);

// After pivot_root: masked and read-only paths, sysctls, and a read-only root.
Status finishBundleRoot(const oci::Spec& spec);

}  // namespace tandem::container

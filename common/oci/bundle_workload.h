// An OCI bundle as the workload a microVM runs: config.json's process, hostname and resources
// turned into tandem's Workload, with what a microVM cannot take from it said plainly. The
// kernel's own filesystems in config.json's mounts (proc, sysfs, devpts, tmpfs, mqueue, cgroup)
// are the guest's own, as is whatever the host binds under /dev, /proc or /sys (podman's
// /dev/shm); other host folders bound in become read-only volumes; single files bound in
// (podman's /etc/hosts, /etc/resolv.conf) are skipped, as the guest has no host network to
// name anyway.
#pragma once

#include <string>
#include <vector>

#include "common/oci/runtime_spec.h"
#include "common/result.h"
#include "common/workload.h"

namespace tandem::oci {

struct BundleWorkload {
  Workload workload;
  std::vector<std::string> skipped;  // what of config.json the microVM leaves out, and why
};

// `rootfs` is the bundle's root, absolute. `isFolder(path)` says whether a host path is a
// folder (a parameter, so the mapping is tested without the host).
Result<BundleWorkload> workloadFromBundle(const Spec& spec, const std::string& id,
                                          const std::string& rootfs,
                                          bool (*isFolder)(const std::string&));

}  // namespace tandem::oci

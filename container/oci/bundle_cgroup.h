// Where an OCI bundle's cgroup goes and what it holds: linux.cgroupsPath read as runc reads it
// (a path, or systemd's "slice:prefix:name" with --systemd-cgroup), and linux.resources turned
// into the runtime's own limits and device allowlist. Pure, so it is unit-tested.
#pragma once

#include <string>
#include <vector>

#include "common/device_rules.h"
#include "common/oci/runtime_spec.h"
#include "common/result.h"
#include "common/workload.h"

namespace tandem::container {

// The cgroup's path relative to each hierarchy's root, without a leading '/': "tandem/ID" when
// cgroupsPath is empty; "machine.slice/libpod-ID.scope" for "machine.slice:libpod:ID" with
// `systemdCgroup` (as systemd would place that scope, nested slices expanded:
// "a-b.slice" lies in "a.slice/a-b.slice").
Result<std::string> cgroupPathFor(const std::string& cgroupsPath, const std::string& id,
                                  bool systemdCgroup);

// memory, cpu (quota over period, as milli-CPUs), cpuset and pids. A swap of 0 is no setting,
// as in runc; one below the memory limit is refused.
Result<ResourceLimits> limitsFrom(const oci::Resources& resources);

// The ordered allow/deny rules of linux.resources.devices as the allowlist the cgroup enforces:
// rules are applied in order to an empty list: an allow adds its devices; a deny takes its
// access letters from every earlier allow whose devices it all covers ("deny all" clears the
// list). A deny that takes only some devices of an earlier allow cannot be expressed as an
// allowlist and is refused, naming it. The nodes of the minimal /dev every container gets are
// allowed too, as runc allows them.
Result<std::vector<DeviceRule>> deviceAllowList(const std::vector<oci::DeviceCgroupRule>& rules);

}  // namespace tandem::container

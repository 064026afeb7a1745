// The workload's volumes (common/volume.h), mounted under the container's new root before
// pivot_root. Mount points missing from the rootfs are made in the container's writable layer;
// every path inside the root is resolved as the container will see it, so no symlink in the image
// can send a mount out of the root.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "common/volume.h"

namespace tandem::container {

// Refuses what a container may not have, before anything is made: volumes over /proc or /sys
// (where runc's CVE-2019-16884 and CVE-2019-19921 led), and disk volumes in a user namespace,
// whose files' host owners would not map into it.
Status checkVolumes(const std::vector<Volume>& volumes, bool userNamespace);

// In the runtime, before the container exists: the ext4 filesystem of each disk volume, in order,
// mounted through a loop device but attached nowhere, so that nothing shows on the host and a
// failure leaves nothing behind. The runtime does this rather than the container process, which
// may already be in its cgroup, whose device rules refuse loop devices.
Result<std::vector<UniqueFd>> mountDiskVolumes(const std::vector<Volume>& volumes);

// In the container process: places each volume on its path under `root`, in order. A bind
// volume is a recursive bind of the host path; a disk volume takes the next of `diskMounts`.
// Read-only volumes are made read-only before they appear.
Status mountVolumes(const std::string& root, const std::vector<Volume>& volumes,
                    std::vector<UniqueFd> diskMounts);

}  // namespace tandem::container

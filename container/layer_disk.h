// A container's writable layer held to a size (--storage-opt size=SIZE, which docker and podman
// offer only on a host filesystem with project quotas): an ext4 filesystem in a sparse file of
// that size in the container's state folder, so that a workload filling its root fills that
// file and no more of the host's disk. Made by the first start and kept with the container, as
// its writable layer is; each start mounts it afresh, detached (ext4_mount.h), and the container
// process places it under the overlay.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem::container {

// The overlay's folders in the layer's filesystem.
inline constexpr const char* kLayerUpper = "upper";
inline constexpr const char* kLayerWork = "work";

// The layer file `image` (made `bytes` long, with its filesystem, unless an earlier start made
// it) mounted detached, with the overlay's folders in it owned by `owner`/`group` (the user
// namespace's root, or root).
Result<UniqueFd> mountLayerDisk(const std::string& image, std::uint64_t bytes, uid_t owner,
                                gid_t group);

}  // namespace tandem::container

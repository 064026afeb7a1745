// The mount(2) calls a new root is built from, each failing with the path it touched: shared by
// a container's root (the runtime's own and an OCI bundle's) and the microVM monitor's jail.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace tandem {

Status mountOrError(const std::string& source, const std::string& target, const std::string& fstype,
                    unsigned long flags, const std::string& data);

// A bind mount ignores MS_RDONLY and friends on creation; they take effect on a remount.
Status remountReadOnly(const std::string& target, unsigned long extraFlags);

// A character device node at `path`, usable by every user of the container; in a user
// namespace, which may not create nodes, the host's node of the same path bound over a file.
Status makeCharDevice(const std::string& path, const std::string& hostPath, unsigned major,
                      unsigned minor, bool userNamespace);

// pivot_root into `root` and detach the old root, leaving no path back; where the host's root
// is an initramfs, which pivot_root cannot leave (or with `noPivot`, as runc --no-pivot), the
// new root is moved over the old one and chrooted into instead.
Status enterRoot(const std::string& root, bool noPivot = false);

// Hides each existing path of `masked` behind /dev/null or an empty read-only tmpfs, and makes
// each existing path of `readOnly` a read-only bind of itself: what runc does, after the pivot.
Status protectPaths(const std::vector<std::string>& masked,
                    const std::vector<std::string>& readOnly);

}  // namespace tandem

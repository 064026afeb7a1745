// The ext4 filesystem in a host file, mounted through a loop device but attached nowhere: a
// detached mount that only move_mount places, so that nothing shows on the host and a failure
// leaves nothing behind. The loop device goes with the mount's last user. Disk volumes and a
// size-limited writable layer are mounted this way, by the runtime, before the container process
// joins its cgroup, whose device rules refuse loop devices.
#pragma once

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem::container {

// `what` names the file in errors ("the disk volume", say).
Result<UniqueFd> detachedExt4Mount(const std::string& file, bool readOnly, const std::string& what);

}  // namespace tandem::container

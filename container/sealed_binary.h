// Defence against CVE-2019-5736: a container process that reaches the runtime's binary through
// /proc/PID/exe must not be able to overwrite it. The container's first process re-executes
// itself before anything of the container exists, from a copy of tandem that cannot be written,
// so every tandem process the container can see (its first process, its --init) runs from it.
#pragma once

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem::container {

// tandem's own executable, opened through a detached, read-only bind mount of its folder:
// writes through it fail with EROFS, nothing copies it, and no mount table leads to the mount.
// Undoing the read-only flag takes CAP_SYS_ADMIN, which a container holds only if given it
// explicitly (runc uses a read-only overlayfs instead, which is immune even to that, at about
// 2 ms more per start here). Call in a private mount namespace.
Result<UniqueFd> readOnlyViewOfSelf();

// The fallback for kernels without the new mount API or overlayfs: a sealed memfd copy.
Result<UniqueFd> sealedCopyOfSelf();

// Whether this process runs from either of the above rather than from a writable file.
bool runningFromProtectedCopy();

}  // namespace tandem::container

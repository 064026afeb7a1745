// Defence against CVE-2019-5736: a container process that reaches the runtime's binary through
// /proc/PID/exe must not be able to overwrite it. The container's first process re-executes
// itself from a sealed, in-memory copy before anything of the container exists, so every tandem
// process the container can see (its first process, its --init) runs from a copy that cannot be
// written, not from the file on the host.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem::container {

// A sealed memfd holding this process's executable.
Result<UniqueFd> sealedCopyOfSelf();

bool runningFromSealedCopy();

}  // namespace tandem::container

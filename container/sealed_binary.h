// Defence against CVE-2019-5736: a container process that reaches the runtime's own binary
// through /proc/PID/exe must not be able to overwrite it. The runtime re-executes itself from a
// sealed, in-memory copy, so /proc/PID/exe of every tandem process near a container points at a
// copy that cannot be written, not at the file on the host.
#pragma once

#include "common/result.h"

namespace tandem::container {

// Returns only if already running from a sealed copy (or on failure, with the reason); on
// success it does not return but execs the copy with the same arguments and environment.
Status reexecFromSealedCopy(char** argv);

bool runningFromSealedCopy();

}  // namespace tandem::container

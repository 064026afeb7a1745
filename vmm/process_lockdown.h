// What tandem-vmm gives up once its machine is built and before the guest runs, as Firecracker's
// jailer has it give up: every capability (the devices, files and sockets it needs are open by
// then), the means to regain any (no_new_privs), a core dump (it would hold guest memory), and
// descriptors past a fixed ceiling. A guest that takes over a thread inherits none of it.
#pragma once

#include <sys/resource.h>

#include "common/result.h"

namespace tandem::vmm {

// Plenty for the devices and the vsock's connections; Firecracker's jailer defaults to 2048.
inline constexpr rlim_t kVmmMaxOpenFiles = 2048;

// Applies to the whole process: call on the main thread before the vCPU threads start, so that
// they inherit it.
Status lockDownProcess();

}  // namespace tandem::vmm

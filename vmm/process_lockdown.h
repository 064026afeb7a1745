// What tandem-vmm gives up once its machine is built and before the guest runs, as Firecracker's
// jailer has it give up: every capability (the devices, files and sockets it needs are open by
// then), the means to regain any (no_new_privs), a core dump (it would hold guest memory),
// descriptors past a fixed ceiling, and writes to any file past the end of its largest writable
// disk. A guest that takes over a thread inherits none of it.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <initializer_list>
#include <optional>

#include "common/result.h"

namespace tandem::vmm {

// Plenty for the devices and the vsock's connections; Firecracker's jailer defaults to 2048.
inline constexpr rlim_t kVmmMaxOpenFiles = 2048;
inline constexpr rlim_t kVmmReportFileBytes = 1 << 20;

// The largest file tandem-vmm may write: its largest writable disk (a layer file is as large as
// its disk from the start, so no write ever needs more), and at least kVmmReportFileBytes for
// the report it leaves in a memory file; or none when the guest's output goes to a regular
// file, which grows with what the guest prints.
std::optional<rlim_t> fileSizeLimit(std::uint64_t largestWritableDisk,
                                    std::initializer_list<int> outputFds);

// Applies to the whole process: call on the main thread before the vCPU threads start, so that
// they inherit it. A write past `maxFileSize` fails (EFBIG, an I/O error for the guest) instead
// of raising SIGXFSZ.
Status lockDownProcess(std::optional<rlim_t> maxFileSize);

}  // namespace tandem::vmm

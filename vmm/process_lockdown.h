// What tandem-vmm gives up once its machine is built and before the guest runs, as Firecracker's
// jailer has it give up: every capability (the devices, files and sockets it needs are open by
// then), the means to regain any (no_new_privs), a core dump (it would hold guest memory),
// descriptors past a fixed ceiling, and writes to any file past the end of its largest writable
// disk. A jailed monitor (vmm_jail.h) also becomes its jail's user. A guest that takes over a
// thread inherits none of it.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <initializer_list>
#include <optional>

#include "common/result.h"
#include "vmm/vmm_jail.h"

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

// Sets the parent-death signal (SIGKILL) and checks that the parent, open as a pidfd, is still
// there: a parent gone already would send no signal. -1: no parent to die with.
Status dieWithParent(int parentPidfd);

struct Lockdown {
  // A write past it fails (EFBIG, an I/O error for the guest) instead of raising SIGXFSZ.
  std::optional<rlim_t> maxFileSize;
  // The jail's user, switched to once the bounding set is empty; none: root without
  // capabilities.
  std::optional<JailUser> user;
  // For dieWithParent again after the switch, which clears the parent-death signal.
  int parentPidfd = -1;
};

// Applies to the whole process: call on the main thread before the vCPU threads start, so that
// they inherit it.
Status lockDownProcess(const Lockdown& lockdown);

}  // namespace tandem::vmm

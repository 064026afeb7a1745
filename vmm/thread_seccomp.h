// The VMM's seccomp allowlists, one per kind of thread, as Firecracker has them: once the
// machine is built, a vCPU thread needs little more than KVM_RUN, and the main thread, which
// serves every device, only what moving bytes between guest memory and its host files and
// sockets takes. A guest that takes over a thread through a device bug finds no open, no exec,
// no mount and no new KVM objects. Each thread installs its own list; the lists stack, so a
// thread started after one was installed gets both.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tandem::vmm {

enum class VmmThread { kMain, kVcpu };

// enforce: a call outside the list ends the VMM, with a message that names the call; log: the
// kernel logs such calls (audit, or dmesg) and lets them through, to learn a list from; off.
enum class SeccompMode { kEnforce, kLog, kOff };

Result<SeccompMode> parseSeccompMode(std::string_view text);
const char* seccompModeName(SeccompMode mode);
const char* vmmThreadName(VmmThread thread);

struct ThreadSyscalls {
  std::vector<std::string> names;     // allowed with any arguments
  std::vector<std::uint64_t> ioctls;  // the only ioctl requests allowed
};
// `statistics`: the main thread may also read each vCPU's KVM statistics at the end.
ThreadSyscalls threadSyscalls(VmmThread thread, bool statistics);

// Makes a refused call print which thread made it and which call it was, then end the process.
// Call once, before any thread installs its list.
Status installSeccompReporter();

// Installs `thread`'s list on the calling thread (not on the others), and sets no_new_privs.
Status installThreadSeccomp(VmmThread thread, SeccompMode mode, bool statistics);

}  // namespace tandem::vmm

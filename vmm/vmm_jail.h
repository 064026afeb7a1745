// The microVM monitor's jail, as Firecracker's jailer builds one, entered by tandem-vmm itself
// once its machine is built (the kernel read, /dev/kvm, the disks and the TAP devices open), so
// that nothing has to be copied or linked into it:
// - mount, network, IPC, UTS and cgroup namespaces of its own (the pid namespace it is started
//   in, as its first process);
// - a root that is an empty read-only tmpfs holding one thing, the folder of its vsock sockets;
// - a user and group of its own, which its sockets are handed to, so that the guest's
//   connections to the host still reach them once every capability is gone.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tandem::vmm {

struct JailUser {
  uid_t uid = 0;
  gid_t gid = 0;
  bool operator==(const JailUser&) const = default;
};

// A jailed monitor runs as a user of its own, one per workload id, from this range: far above
// people's ids and the subordinate ranges user namespaces are given (100000 onwards), and below
// the ids the kernel reserves (65535, 4294967295).
inline constexpr std::uint32_t kJailIdFirst = 0x40000000;
inline constexpr std::uint32_t kJailIdCount = 1u << 24;

// The same id for the same workload, spread over the range so that two running microVMs almost
// never share one (and when they do, their own pid namespaces and empty roots keep them apart).
JailUser jailUserFor(std::string_view workloadId);

// "UID:GID", as tandem-vmm's --jail takes it; root is refused, the point being to leave it.
Result<JailUser> parseJailUser(std::string_view text);
std::string jailUserText(const JailUser& user);

// The socket folder's second name in the jail: short enough for any socket in it to fit a
// sockaddr_un, however deep the folder lies on the host.
inline constexpr const char* kJailSocketAlias = "/vsock";

struct JailPlan {
  JailUser user;
  // The host folder of the vsock's sockets (absolute), seen in the jail at its own path and at
  // kJailSocketAlias; empty: the jail holds nothing.
  std::string socketFolder;
  // Sockets the monitor made in that folder, handed to the jail's user.
  std::vector<std::string> ownSockets;
};

// Enters the jail's namespaces and root. Needs root (CAP_SYS_ADMIN, CAP_CHOWN) and must run
// while the process has one thread: namespaces and the root are per thread until then shared.
// The switch to the jail's user comes with the rest of the lockdown (process_lockdown.h).
Status enterJail(const JailPlan& plan);

}  // namespace tandem::vmm

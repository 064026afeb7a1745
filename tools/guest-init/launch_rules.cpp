#include "tools/guest-init/launch_rules.h"

#include <cerrno>

#include "vmm/guest_protocol.h"

namespace tandem::guest_init {

std::vector<std::string> workloadEnvironment(const Workload& workload) {
  std::vector<std::string> env = workload.env;
  bool hasPath = false;
  for (const auto& entry : env) {
    hasPath = hasPath || entry.starts_with("PATH=");
  }
  if (!hasPath) {
    env.push_back(std::string("PATH=") + kDefaultPath);
  }
  return env;
}

int execFailureCode(int errnum) {
  // ENOTDIR: a PATH entry or a component of the command's path is a file, so nothing is there.
  return errnum == ENOENT || errnum == ENOTDIR ? kExitNotFound : kExitCannotExecute;
}

std::uint32_t exitStatusWord(const ExitStatus& status) {
  if (status.signaled) {
    return guest::encodeStatus(guest::StatusKind::kSignaled,
                               static_cast<std::uint8_t>(status.signal));
  }
  return guest::encodeStatus(guest::StatusKind::kExited, static_cast<std::uint8_t>(status.code));
}

}  // namespace tandem::guest_init

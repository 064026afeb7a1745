// What every process tandem starts inside a container does between entering it and its execve,
// whether it is the container's first process or one `tandem exec` adds: the user and its
// environment, the executable found on the container's PATH, rlimits, the drop to the
// workload's identity and capabilities, and tandem's own descriptors kept from the workload.
#pragma once

#include <sys/capability.h>

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "common/workload.h"
#include "container/user_lookup.h"

namespace tandem::container {

Status applyRlimits(const std::vector<Rlimit>& limits);

std::optional<std::string> envValue(const std::vector<std::string>& env, const std::string& key);

// The workload's environment with the defaults docker gives every container, unless set: PATH,
// HOSTNAME, HOME, and TERM with a tty.
std::vector<std::string> workloadEnvironment(const Workload& workload, const ResolvedUser& user);

struct Executable {
  std::string path;
  int exitCode = 0;  // non-zero when not found or not executable
  std::string problem;
};

// execvp's search, but over the container's PATH rather than the runtime's, and telling apart
// "not found" (127) from "found but not executable" (126).
Executable findExecutable(const std::string& command, const std::string& path);

// The workload's user, resolved in the /etc/passwd and /etc/group of the root this process sees.
Result<ResolvedUser> lookUpUser(const Workload& workload);

// Supplementary groups, then group, then user: all three ids of each.
Status changeIdentity(const ResolvedUser& user);

// no_new_privs, the bounding set cut to `keep`, the switch to `user`, then `keep` as the
// effective, permitted and inheritable sets.
Status dropToWorkloadPrivileges(const ResolvedUser& user, const std::vector<cap_value_t>& keep);

// Marks every descriptor but stdio close-on-exec: none of tandem's may reach the workload (the
// class of CVE-2024-21626).
Status sealRuntimeDescriptors();

// tandem's executable in a form the container cannot overwrite (container/sealed_binary.h), for
// the re-exec before any of the container is entered. Makes this process's mounts private: call
// in a mount namespace of its own.
Result<UniqueFd> protectedSelf();

}  // namespace tandem::container

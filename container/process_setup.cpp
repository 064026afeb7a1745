#include "container/process_setup.h"

#include <grp.h>
#include <linux/close_range.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "common/file.h"
#include "common/log.h"
#include "common/process.h"
#include "common/capabilities.h"
#include "container/sealed_binary.h"
#include "container/seccomp.h"

namespace tandem::container {

namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string limitText(std::uint64_t value) {
  return value == RLIM_INFINITY ? "unlimited" : std::to_string(value);
}

}  // namespace

Status applyRlimits(const std::vector<Rlimit>& limits) {
  for (const auto& limit : limits) {
    rlimit value{limit.soft, limit.hard};
    if (::setrlimit(limit.resource, &value) != 0) {
      int err = errno;
      rlimit current{};
      ::getrlimit(limit.resource, &current);
      return Error::fromErrno(std::string("cannot set ulimit ") + rlimitName(limit.resource) +
                                  " to " + limitText(limit.soft) + ":" + limitText(limit.hard) +
                                  " (this host's hard limit is " + limitText(current.rlim_max) +
                                  "; ask for at most that)",
                              err);
    }
  }
  return okStatus();
}

std::optional<std::string> envValue(const std::vector<std::string>& env, const std::string& key) {
  for (const auto& entry : env) {
    if (entry.size() > key.size() && entry[key.size()] == '=' &&
        entry.compare(0, key.size(), key) == 0) {
      return entry.substr(key.size() + 1);
    }
  }
  return std::nullopt;
}

std::vector<std::string> workloadEnvironment(const Workload& workload, const ResolvedUser& user) {
  std::vector<std::string> env = workload.env;
  if (!envValue(env, "PATH")) env.push_back(std::string("PATH=") + kDefaultPath);
  if (!envValue(env, "HOSTNAME")) env.push_back("HOSTNAME=" + workload.hostname);
  if (!envValue(env, "HOME")) env.push_back("HOME=" + user.home);
  if (workload.tty && !envValue(env, "TERM")) env.push_back("TERM=xterm");
  return env;
}

Executable findExecutable(const std::string& command, const std::string& path) {
  auto check = [](const std::string& candidate) -> int {
    struct stat st {};
    if (::stat(candidate.c_str(), &st) != 0) {
      return errno == ENOTDIR ? ENOENT : errno;
    }
    if (S_ISDIR(st.st_mode)) {
      return EISDIR;
    }
    return ::access(candidate.c_str(), X_OK) == 0 ? 0 : EACCES;
  };
  if (command.find('/') != std::string::npos) {
    int err = check(command);
    if (err == 0) return {command, 0, ""};
    if (err == ENOENT)
      return {"", kExitNotFound, "\"" + command + "\": no such file in the rootfs"};
    return {"", kExitCannotExecute, "\"" + command + "\" is not executable: " + std::strerror(err)};
  }
  std::string denied;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + command;
    int err = check(candidate);
    if (err == 0) return {candidate, 0, ""};
    if (err != ENOENT && denied.empty()) denied = candidate;
    start = end + 1;
  }
  if (!denied.empty()) {
    return {"", kExitCannotExecute, "\"" + denied + "\" is not executable"};
  }
  return {"", kExitNotFound,
          "\"" + command + "\": executable file not found in $PATH (" + path + ")"};
}

Result<ResolvedUser> lookUpUser(const Workload& workload) {
  auto passwd = readFile("/etc/passwd");
  auto group = readFile("/etc/group");
  auto resolved =
      resolveUser(workload.user.spec.value_or(""), passwd ? *passwd : "", group ? *group : "");
  if (resolved && !workload.user.additionalGids.empty()) {
    resolved->additionalGids.insert(resolved->additionalGids.end(),
                                    workload.user.additionalGids.begin(),
                                    workload.user.additionalGids.end());
  }
  return resolved;
}

Status changeIdentity(const ResolvedUser& user) {
  if (::setgroups(user.additionalGids.size(), user.additionalGids.data()) != 0) {
    return Error::fromErrno("cannot set supplementary groups");
  }
  if (::setresgid(user.gid, user.gid, user.gid) != 0) {
    return Error::fromErrno("cannot switch to group " + std::to_string(user.gid));
  }
  if (::setresuid(user.uid, user.uid, user.uid) != 0) {
    return Error::fromErrno("cannot switch to user " + std::to_string(user.uid));
  }
  return okStatus();
}

Status dropToWorkloadPrivileges(const ResolvedUser& user, const std::vector<cap_value_t>& keep) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Error::fromErrno("cannot set no_new_privs");
  }
  TANDEM_TRY(dropBoundingSet(keep));
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
    return Error::fromErrno("cannot keep capabilities across the user switch");
  }
  TANDEM_TRY(changeIdentity(user));
  return applyCapabilities(keep);
}

Status sealRuntimeDescriptors() {
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    return Error::fromErrno("cannot mark the runtime's descriptors close-on-exec");
  }
  return okStatus();
}

// The detached mount leaves no trace in the (private) mount namespace; the sealed copy costs
// several milliseconds.
Result<UniqueFd> protectedSelf() {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Error::fromErrno("cannot make the container's mounts private");
  }
  auto view = readOnlyViewOfSelf();
  if (view) {
    return view;
  }
  spdlog::debug("{}; falling back to a sealed copy", view.error().describe());
  return sealedCopyOfSelf();
}

}  // namespace tandem::container

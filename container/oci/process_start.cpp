#include "container/oci/process_start.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/log.h"
#include "common/process.h"
#include "common/workload.h"
#include "common/capabilities.h"
#include "container/child_report.h"
#include "container/process_setup.h"
#include "container/seccomp.h"
#include "container/user_lookup.h"

namespace tandem::container {

namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

Status applyProcessLimits(const oci::Process& process) {
  for (const oci::Rlimit& limit : process.rlimits) {
    rlimit value{limit.soft, limit.hard};
    if (::setrlimit(limit.resource, &value) != 0) {
      int err = errno;
      rlimit current{};
      ::getrlimit(limit.resource, &current);
      std::string what = "cannot set process.rlimits " + rlimitName(limit.resource) + " to " +
                         std::to_string(limit.soft) + ":" + std::to_string(limit.hard);
      if (err == EPERM && limit.hard > current.rlim_max) {
        what += " (the runtime may not raise its hard limit above " +
                std::to_string(current.rlim_max) +
                " without CAP_SYS_RESOURCE; ask for less, e.g. podman --ulimit " +
                rlimitName(limit.resource) + "=" + std::to_string(current.rlim_max) + ")";
      }
      return Error::fromErrno(what, err);
    }
  }
  if (process.oomScoreAdj) {
    TANDEM_TRY(writeExistingFile("/proc/self/oom_score_adj", std::to_string(*process.oomScoreAdj)));
  }
  if (process.umask) ::umask(static_cast<mode_t>(*process.umask));
  return okStatus();
}

// HOME from the container's /etc/passwd when the process leaves it out, as runc does.
std::vector<std::string> processEnvironment(const oci::Process& process) {
  std::vector<std::string> env = process.env;
  if (envValue(env, "HOME")) return env;
  std::string home = "/";
  auto passwd = readFile("/etc/passwd");
  auto group = readFile("/etc/group");
  if (auto user =
          resolveUser(std::to_string(process.uid), passwd ? *passwd : "", group ? *group : "")) {
    home = user->home;
  }
  env.push_back("HOME=" + home);
  return env;
}

CapabilitySets capabilitySets(const oci::Process& process) {
  CapabilitySets sets;
  if (!process.capabilities) return sets;
  std::vector<std::string> unknown;
  const oci::Capabilities& caps = *process.capabilities;
  sets.bounding = parseCapabilityNames(caps.bounding, unknown);
  sets.effective = parseCapabilityNames(caps.effective, unknown);
  sets.permitted = parseCapabilityNames(caps.permitted, unknown);
  sets.inheritable = parseCapabilityNames(caps.inheritable, unknown);
  sets.ambient = parseCapabilityNames(caps.ambient, unknown);
  for (const auto& name : unknown) {
    spdlog::debug("capability {} is unknown to this kernel or libcap; left out", name);
  }
  return sets;
}

}  // namespace

Result<PreparedProcess> prepareProcess(const oci::Process& process, int& exitCodeOnFailure) {
  exitCodeOnFailure = kExitRuntimeError;
  TANDEM_TRY(applyProcessLimits(process));
  PreparedProcess prepared;
  prepared.env = processEnvironment(process);
  if (::chdir(process.cwd.c_str()) != 0) {
    if (errno != ENOENT || !makeDirectories(process.cwd).ok() ||
        ::chdir(process.cwd.c_str()) != 0) {
      return Error::fromErrno("cannot change to the working directory " + process.cwd);
    }
  }
  auto path = envValue(prepared.env, "PATH");
  Executable executable = findExecutable(process.args.front(), path ? *path : kDefaultPath);
  if (executable.exitCode != 0) {
    exitCodeOnFailure = executable.exitCode;
    return Error(executable.problem);
  }
  prepared.executable = executable.path;
  return prepared;
}

ProcessFailure execPrepared(const oci::Process& process, const PreparedProcess& prepared,
                            const std::vector<sock_filter>& seccompProgram) {
  auto failure = [](Error error) { return ProcessFailure{std::move(error), kExitRuntimeError}; };
  CapabilitySets caps = capabilitySets(process);
  if (process.noNewPrivileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return failure(Error::fromErrno("cannot set no_new_privs"));
  }
  // Without no_new_privs, only a process holding CAP_SYS_ADMIN may install a filter: so it goes
  // in now, and the profile must allow the few calls left to make (as runc's does).
  bool seccompFirst = !process.noNewPrivileges;
  if (seccompFirst && !seccompProgram.empty()) {
    if (auto installed = installSeccompProgram(seccompProgram); !installed) {
      return failure(installed.error());
    }
  }
  if (auto dropped = dropBoundingSet(caps.bounding); !dropped) return failure(dropped.error());
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
    return failure(Error::fromErrno("cannot keep capabilities across the user switch"));
  }
  if (auto changed =
          changeIdentity(ResolvedUser{process.uid, process.gid, process.additionalGids, "/"});
      !changed) {
    return failure(changed.error());
  }
  if (auto applied = applyCapabilitySets(caps); !applied) return failure(applied.error());
  if (auto sealed = sealRuntimeDescriptors(); !sealed) return failure(sealed.error());
  if (!seccompFirst && !seccompProgram.empty()) {
    if (auto installed = installSeccompProgram(seccompProgram); !installed) {
      return failure(installed.error());
    }
  }
  std::vector<char*> argv = execArgv(process.args);
  std::vector<char*> envp = execArgv(prepared.env);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(prepared.executable.c_str(), argv.data(), envp.data());
  int err = errno;
  return ProcessFailure{Error::fromErrno("cannot execute " + prepared.executable, err),
                        err == ENOENT ? kExitNotFound : kExitCannotExecute};
}

void startProcess(const oci::Process& process, const std::vector<sock_filter>& seccompProgram,
                  int errorPipe) {
  int exitCode = kExitRuntimeError;
  auto prepared = prepareProcess(process, exitCode);
  if (!prepared) reportChildFailure(errorPipe, exitCode, prepared.error().describe());
  ProcessFailure failure = execPrepared(process, *prepared, seccompProgram);
  reportChildFailure(errorPipe, failure.exitCode, failure.error.describe());
}

}  // namespace tandem::container

#include "container/oci/bundle_process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/fd_passing.h"
#include "common/log.h"
#include "common/mount_calls.h"
#include "common/oci/container_directory.h"
#include "common/oci/hooks.h"
#include "common/process.h"
#include "container/child_report.h"
#include "container/container_process.h"
#include "container/oci/process_start.h"
#include "container/rootfs.h"

namespace tandem::container {

namespace {

// Once `create` has returned, no one reads the error pipe: a failure after the start is told on
// the container's own stderr, which the engine keeps (conmon's log, the shim's).
bool startedByEngine = false;

[[noreturn]] void fail(const BundleProcessConfig& config, const Error& error,
                       int exitCode = kExitRuntimeError) {
  if (startedByEngine) {
    std::string line = "tandem-oci: " + error.describe() + "\n";
    (void)!::write(STDERR_FILENO, line.data(), line.size());
  }
  reportChildFailure(config.errorPipe, exitCode, error.describe());
}

template <class T>
T orFail(const BundleProcessConfig& config, Result<T> result) {
  if (!result) fail(config, result.error());
  return std::move(result).value();
}

void orFail(const BundleProcessConfig& config, Status status) {
  if (!status) fail(config, status.error());
}

void awaitRuntime(const BundleProcessConfig& config, char expected) {
  char byte = 0;
  if (::read(config.syncSocket, &byte, 1) != 1 || byte != expected) {
    // The runtime is gone or gave up; it reports its own error, and there is no one to tell.
    ::_exit(kExitRuntimeError);
  }
}

void tellRuntime(const BundleProcessConfig& config, char byte) {
  if (::send(config.syncSocket, &byte, 1, MSG_NOSIGNAL) != 1) ::_exit(kExitRuntimeError);
}

// Namespaces config.json names by path, entered here; the user namespace first, since it
// decides what the others may be joined with. The pid namespace was joined by the runtime,
// before the clone, since setns() moves only children into one.
Status joinNamespaces(const oci::Spec& spec) {
  std::vector<oci::Namespace> order;
  for (const oci::Namespace& ns : spec.linux.namespaces) {
    if (ns.path.empty() || ns.type == oci::NamespaceType::kPid) continue;
    if (ns.type == oci::NamespaceType::kUser) {
      order.insert(order.begin(), ns);
    } else {
      order.push_back(ns);
    }
  }
  for (const oci::Namespace& ns : order) {
    UniqueFd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
      return Error::fromErrno(std::string("cannot open the ") + toString(ns.type) + " namespace " +
                              ns.path);
    if (::setns(fd.get(), oci::cloneFlag(ns.type)) != 0) {
      return Error::fromErrno(std::string("cannot join the ") + toString(ns.type) + " namespace " +
                              ns.path);
    }
  }
  return okStatus();
}

// Applied with MS_REC whether or not the name says "r": to every mount of the container.
unsigned long propagationFlag(std::string name) {
  if (name.starts_with("r")) name.erase(0, 1);
  if (name == "shared") return MS_SHARED;
  if (name == "slave") return MS_SLAVE;
  if (name == "unbindable") return MS_UNBINDABLE;
  return MS_PRIVATE;
}

}  // namespace

void runBundleProcess(const char* program, const BundleProcessConfig& config) {
  for (int sig = 1; sig < NSIG; ++sig) {
    ::signal(sig, SIG_DFL);
  }
  if (config.newUserNamespace) {
    awaitRuntime(config, kSyncMapsWritten);
    if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) {
      fail(config, Error::fromErrno("cannot become root of the user namespace; do "
                                    "linux.uidMappings and gidMappings map id 0?"));
    }
  }
  reexecProtected(program, "bundle-process", config.syncSocket, config.errorPipe);
}

void continueBundleProcess(const BundleProcessConfig& config) {
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  oci::Spec spec = orFail(config, oci::parseSpec(config.specText));
  const oci::Process& process = *spec.process;
  awaitRuntime(config, kSyncInCgroup);
  orFail(config, joinNamespaces(spec));
  const oci::Namespace* cgroupNs = spec.findNamespace(oci::NamespaceType::kCgroup);
  // Only once in its cgroup, which becomes the root of its cgroup namespace.
  if (cgroupNs && cgroupNs->path.empty() && ::unshare(CLONE_NEWCGROUP) != 0) {
    fail(config, Error::fromErrno("cannot create the cgroup namespace"));
  }
  if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0) {
    fail(config, Error::fromErrno("cannot set the hostname to " + spec.hostname));
  }
  if (!spec.domainname.empty() &&
      ::setdomainname(spec.domainname.data(), spec.domainname.size()) != 0) {
    fail(config, Error::fromErrno("cannot set the domain name to " + spec.domainname));
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | propagationFlag(spec.linux.rootfsPropagation),
              nullptr) != 0) {
    fail(config, Error::fromErrno("cannot set the propagation of the container's mounts"));
  }
  orFail(config, buildBundleRoot(spec, config.root));
  Console console;
  if (process.terminal) {
    console = orFail(config, openConsole(config.root.rootfs));
    orFail(config, sendFd(config.syncSocket, console.master.get()));
    console.master.reset();
  }
  tellRuntime(config, kSyncRunHooks);
  awaitRuntime(config, kSyncHooksRan);
  orFail(config, oci::runHooks(spec.hooks.createContainer, config.stateJson, "createContainer"));
  // Opened before the pivot, which takes the runtime's state folder out of sight.
  UniqueFd fifo(::open(config.execFifo.c_str(), O_PATH | O_CLOEXEC));
  if (!fifo) fail(config, Error::fromErrno("cannot open the exec FIFO " + config.execFifo));
  orFail(config, enterRoot(config.root.rootfs, config.noPivot));
  orFail(config, finishBundleRoot(spec));
  int exitCode = kExitRuntimeError;
  auto prepared = prepareProcess(process, exitCode);
  if (!prepared) fail(config, prepared.error(), exitCode);
  ::setsid();
  if (process.terminal) {
    orFail(config, attachTerminal(console.slave.get()));
    console.slave.reset();
  }

  tellRuntime(config, kSyncCreated);
  orFail(config, oci::awaitStart("/proc/self/fd/" + std::to_string(fifo.get())));
  fifo.reset();
  startedByEngine = true;
  orFail(config, oci::runHooks(spec.hooks.startContainer, config.stateJson, "startContainer"));
  ProcessFailure failure = execPrepared(process, *prepared, config.seccompProgram);
  fail(config, failure.error, failure.exitCode);
}

std::string serializeBundleProcessConfig(const BundleProcessConfig& config) {
  nlohmann::json program = seccompProgramToJson(config.seccompProgram);
  nlohmann::json cgroups = nlohmann::json::array();
  for (const CgroupView& view : config.root.cgroups) {
    cgroups.push_back({view.name, view.hostPath});
  }
  return nlohmann::json{
      {"spec", config.specText},
      {"rootfs", config.root.rootfs},
      {"cgroups", cgroups},
      {"userNamespace", config.root.userNamespace},
      {"execFifo", config.execFifo},
      {"state", config.stateJson},
      {"noPivot", config.noPivot},
      {"newUserNamespace", config.newUserNamespace},
      {"seccompProgram", program},
      {"syncSocket", config.syncSocket},
      {"errorPipe", config.errorPipe},
      {"logLevel", spdlog::level::to_string_view(spdlog::get_level()).data()},
  }
      .dump();
}

Result<BundleProcessConfig> parseBundleProcessConfig(const std::string& text) {
  try {
    auto json = nlohmann::json::parse(text);
    BundleProcessConfig config;
    config.specText = json.at("spec").get<std::string>();
    config.root.rootfs = json.at("rootfs").get<std::string>();
    for (const auto& view : json.at("cgroups")) {
      config.root.cgroups.push_back({view.at(0).get<std::string>(), view.at(1).get<std::string>()});
    }
    config.root.userNamespace = json.at("userNamespace").get<bool>();
    config.execFifo = json.at("execFifo").get<std::string>();
    config.stateJson = json.at("state").get<std::string>();
    config.noPivot = json.at("noPivot").get<bool>();
    config.newUserNamespace = json.at("newUserNamespace").get<bool>();
    config.seccompProgram = seccompProgramFromJson(json.at("seccompProgram"));
    config.syncSocket = json.at("syncSocket").get<int>();
    config.errorPipe = json.at("errorPipe").get<int>();
    (void)setLogLevel(json.at("logLevel").get<std::string>());
    return config;
  } catch (const nlohmann::json::exception& e) {
    return Error(std::string("the bundle process's configuration is damaged: ") + e.what());
  }
}

}  // namespace tandem::container

#include "container/oci/bundle_runtime.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/cgroup.h"
#include "common/child_process.h"
#include "common/fd_passing.h"
#include "common/file.h"
#include "common/log.h"
#include "common/oci/container_directory.h"
#include "common/oci/container_state.h"
#include "common/oci/hooks.h"
#include "common/process.h"
#include "common/process_identity.h"
#include "common/state_directory.h"
#include "common/unix_socket.h"
#include "container/child_report.h"
#include "container/container_process.h"
#include "container/oci/bundle_cgroup.h"
#include "container/oci/bundle_process.h"
#include "container/oci/seccomp_filter.h"

namespace tandem::container {

namespace {

std::string mapText(const std::vector<oci::IdMapping>& mappings) {
  std::string content;
  for (const auto& m : mappings) {
    content += std::to_string(m.containerId) + " " + std::to_string(m.hostId) + " " +
               std::to_string(m.size) + "\n";
  }
  return content;
}

// The namespaces config.json asks to be made, not joined. A cgroup namespace is made by the
// process itself, once it is in its cgroup.
std::uint64_t cloneFlags(const oci::Spec& spec) {
  std::uint64_t flags = 0;
  for (const oci::Namespace& ns : spec.linux.namespaces) {
    if (ns.path.empty() && ns.type != oci::NamespaceType::kCgroup) {
      flags |= static_cast<std::uint64_t>(oci::cloneFlag(ns.type));
    }
  }
  return flags;
}

// Each hierarchy's folder name, as a "cgroup" mount shows it: on pure v2, none (cgroup2 itself
// is mounted).
std::vector<CgroupView> cgroupViews(const CgroupMounts& mounts, const Cgroup& cgroup) {
  std::vector<CgroupView> views;
  if (mounts.layout == CgroupLayout::kV2) return views;
  for (const Cgroup::Directory& dir : cgroup.directories()) {
    std::string name;
    if (dir.v2) {
      name = "unified";
    } else {
      for (const auto& [controller, mountPoint] : mounts.v1) {
        if (dir.path.starts_with(mountPoint + "/")) {
          name = mountPoint.substr(mountPoint.rfind('/') + 1);
          break;
        }
      }
    }
    if (!name.empty()) views.push_back({name, dir.path});
  }
  return views;
}

// Waits for `expected` from the container's process; if it fails instead, its own account of
// why (from the error pipe) is the error.
Status expectFromProcess(int sync, int errorPipe, char expected, const char* stage) {
  char byte = 0;
  ssize_t n;
  while ((n = ::recv(sync, &byte, 1, 0)) < 0 && errno == EINTR) {
  }
  if (n == 1 && byte == expected) return okStatus();
  if (auto failure = readChildFailure(errorPipe)) {
    return Error(failure->message, 0);
  }
  return Error(std::string("the container's process ended while ") + stage);
}

Status sendByte(int sync, char byte) {
  if (::send(sync, &byte, 1, MSG_NOSIGNAL) != 1) {
    return Error::fromErrno("cannot signal the container's process");
  }
  return okStatus();
}

}  // namespace

Result<pid_t> BundleRuntime::create(const CreateOptions& options, const oci::Bundle& bundle) const {
  const oci::Spec& spec = bundle.spec;
  if (spec.process->terminal && options.consoleSocket.empty()) {
    return Error("process.terminal is set, so --console-socket is needed to receive the pty");
  }
  if (!spec.hasNamespace(oci::NamespaceType::kMount)) {
    return Error("config.json: linux.namespaces must include a mount namespace");
  }
  TANDEM_ASSIGN_OR_RETURN(std::string cgroupPath,
                          cgroupPathFor(spec.linux.cgroupsPath, options.id, options.systemdCgroup));
  TANDEM_ASSIGN_OR_RETURN(std::vector<sock_filter> seccompProgram, seccompProgramFor(spec));
  TANDEM_ASSIGN_OR_RETURN(ResourceLimits limits, limitsFrom(spec.linux.resources));
  TANDEM_ASSIGN_OR_RETURN(std::vector<DeviceRule> devices,
                          deviceAllowList(spec.linux.resources.devices));
  TANDEM_ASSIGN_OR_RETURN(CgroupMounts cgroupMounts, detectCgroupMounts());

  oci::ContainerDirectory directory(root_, options.id);
  TANDEM_TRY(directory.create());
  StateDirectory state(directory.path());
  oci::ContainerRecord record{options.id, bundle.path,       bundle.rootfs, 0,
                              0,          oci::rfc3339Now(), false,         spec.annotations,
                              cgroupPath, "container"};
  TANDEM_TRY(directory.save(record));
  TANDEM_TRY(directory.saveConfig(bundle.specText));
  TANDEM_TRY(directory.makeExecFifo());
  const std::string& rootfs = bundle.rootfs;
  const std::string& specText = bundle.specText;
  std::string fifo = directory.fifoPath();

  if (const oci::Namespace* pidNs = spec.findNamespace(oci::NamespaceType::kPid);
      pidNs && !pidNs->path.empty()) {
    UniqueFd fd(::open(pidNs->path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd || ::setns(fd.get(), CLONE_NEWPID) != 0) {
      return Error::fromErrno("cannot join the pid namespace " + pidNs->path);
    }
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return Error::fromErrno("cannot create the runtime's socket pair");
  }
  UniqueFd syncParent(pair[0]);
  UniqueFd syncChild(pair[1]);
  TANDEM_ASSIGN_OR_RETURN(Pipe errorPipe, makePipe());
  std::uint64_t flags = cloneFlags(spec);
  bool newUserNamespace = (flags & CLONE_NEWUSER) != 0;
  BundleProcessConfig config;
  config.specText = specText;
  config.root = BundleRootOptions{rootfs, {}, spec.hasNamespace(oci::NamespaceType::kUser)};
  config.execFifo = fifo;
  config.noPivot = options.noPivot;
  config.newUserNamespace = newUserNamespace;
  config.seccompProgram = std::move(seccompProgram);
  config.syncSocket = syncChild.get();
  config.errorPipe = errorPipe.write.get();

  clone_args args{};
  args.flags = flags;
  args.exit_signal = SIGCHLD;
  long cloned = ::syscall(SYS_clone3, &args, sizeof args);
  if (cloned < 0) return Error::fromErrno("cannot create the container's namespaces (clone3)");
  if (cloned == 0) {
    runBundleProcess(program_.c_str(), config);
  }
  auto pid = static_cast<pid_t>(cloned);
  // Killed and reaped unless create succeeds.
  ChildGuard guard(pid);
  syncChild.reset();
  errorPipe.write.reset();
  record.pid = pid;
  record.pidStartTime = processStartTime(pid).value_or(0);
  int sync = syncParent.get();

  if (newUserNamespace) {
    std::string proc = "/proc/" + std::to_string(pid);
    TANDEM_TRY(writeExistingFile(proc + "/uid_map", mapText(spec.linux.uidMappings)));
    TANDEM_TRY(writeExistingFile(proc + "/gid_map", mapText(spec.linux.gidMappings)));
    TANDEM_TRY(sendByte(sync, kSyncMapsWritten));
  }
  TANDEM_ASSIGN_OR_RETURN(Cgroup cgroup,
                          Cgroup::createAt(cgroupMounts, cgroupPath, limits, devices));
  TANDEM_TRY(cgroup.addProcess(pid));
  config.root.cgroups = cgroupViews(cgroupMounts, cgroup);
  config.stateJson = oci::stateJson(record, oci::ContainerStatus::kCreating).dump();
  TANDEM_TRY(sendFramedText(sync, serializeBundleProcessConfig(config)));
  TANDEM_TRY(sendByte(sync, kSyncInCgroup));
  if (spec.process->terminal) {
    auto master = receiveFd(sync);
    if (!master) {
      // The process's own account of its failure, if it left one, says more.
      TANDEM_TRY(expectFromProcess(sync, errorPipe.read.get(), '\0', "building its root"));
      return std::move(master).error();
    }
    TANDEM_ASSIGN_OR_RETURN(UniqueFd socket, connectUnixSocket(options.consoleSocket));
    TANDEM_TRY(sendFd(socket.get(), master->get()));
  }
  TANDEM_TRY(expectFromProcess(sync, errorPipe.read.get(), kSyncRunHooks, "building its root"));
  TANDEM_TRY(oci::runHooks(spec.hooks.prestart, config.stateJson, "prestart"));
  TANDEM_TRY(oci::runHooks(spec.hooks.createRuntime, config.stateJson, "createRuntime"));
  TANDEM_TRY(sendByte(sync, kSyncHooksRan));
  TANDEM_TRY(expectFromProcess(sync, errorPipe.read.get(), kSyncCreated, "getting ready"));

  record.createFinished = true;
  TANDEM_TRY(directory.save(record));
  if (!options.pidFile.empty()) {
    TANDEM_TRY(oci::writeAtomically(options.pidFile, std::to_string(pid)));
  }
  cgroup.release();
  state.keep();
  spdlog::debug("container {} created as host pid {}", options.id, pid);
  guard.reaped();
  return pid;
}

namespace {

// Reads one byte from the FIFO the created process waits to open, without blocking forever on
// a process that died meanwhile.
Status releaseCreatedProcess(const std::string& fifoPath, const oci::ContainerRecord& record) {
  UniqueFd fifo(::open(fifoPath.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fifo) return Error::fromErrno("cannot open the exec FIFO " + fifoPath);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    char byte = 0;
    ssize_t n = ::read(fifo.get(), &byte, 1);
    if (n == 1) return okStatus();
    if (!sameProcess(record.pid, record.pidStartTime)) {
      return Error("the container's process ended before it could start");
    }
    // Before the process opens its end, the FIFO reads as at its end at once: wait a little.
    pollfd wait{fifo.get(), POLLIN, 0};
    if (::poll(&wait, 1, 10) > 0 && (wait.revents & POLLIN) == 0) ::usleep(1000);
  }
  return Error("the container's process did not take the start within 10 s");
}

}  // namespace

Status BundleRuntime::start(const std::string& id) const {
  oci::ContainerDirectory directory(root_, id);
  TANDEM_ASSIGN_OR_RETURN(UniqueFd locked, directory.lock());
  TANDEM_ASSIGN_OR_RETURN(oci::LoadedContainer loaded, directory.load());
  TANDEM_TRY(oci::checkOperation(oci::Operation::kStart, loaded.status));
  std::string fifo = directory.fifoPath();
  TANDEM_TRY(releaseCreatedProcess(fifo, loaded.record));
  ::unlink(fifo.c_str());
  TANDEM_ASSIGN_OR_RETURN(std::string specText, directory.recordedConfig());
  TANDEM_ASSIGN_OR_RETURN(oci::Spec spec, oci::parseSpec(specText));
  std::string state = oci::stateJson(loaded.record, oci::ContainerStatus::kRunning).dump();
  // runtime-spec: a poststart hook that fails is logged, and the lifecycle goes on.
  if (auto hooks = oci::runHooks(spec.hooks.poststart, state, "poststart"); !hooks) {
    spdlog::warn("{}", hooks.error().describe());
  }
  return okStatus();
}

Result<nlohmann::json> BundleRuntime::state(const std::string& id) const {
  TANDEM_ASSIGN_OR_RETURN(oci::LoadedContainer loaded, oci::ContainerDirectory(root_, id).load());
  return oci::stateJson(loaded.record, loaded.status);
}

Result<oci::LoadedContainer> BundleRuntime::load(const std::string& id) const {
  return oci::ContainerDirectory(root_, id).load();
}

Status BundleRuntime::kill(const std::string& id, int signal, bool all) const {
  TANDEM_ASSIGN_OR_RETURN(oci::LoadedContainer loaded, oci::ContainerDirectory(root_, id).load());
  if (all) {
    TANDEM_ASSIGN_OR_RETURN(std::vector<pid_t> pids, processes(id));
    for (pid_t pid : pids) ::kill(pid, signal);
    return okStatus();
  }
  TANDEM_TRY(oci::checkOperation(oci::Operation::kKill, loaded.status));
  auto process = openProcess(loaded.record.pid, loaded.record.pidStartTime);
  if (!process) return Error("container not running");
  return signalProcess(process->get(), signal);
}

Result<std::vector<pid_t>> BundleRuntime::processes(const std::string& id) const {
  TANDEM_ASSIGN_OR_RETURN(oci::LoadedContainer loaded, oci::ContainerDirectory(root_, id).load());
  TANDEM_ASSIGN_OR_RETURN(CgroupMounts mounts, detectCgroupMounts());
  Cgroup cgroup = Cgroup::adoptAt(mounts, loaded.record.cgroupPath);
  std::set<pid_t> pids;
  for (const Cgroup::Directory& dir : cgroup.directories()) {
    if (auto text = readFile(dir.path + "/cgroup.procs")) {
      std::istringstream lines(*text);
      pid_t pid = 0;
      while (lines >> pid) pids.insert(pid);
    }
  }
  cgroup.release();
  return std::vector<pid_t>(pids.begin(), pids.end());
}

Status BundleRuntime::remove(const std::string& id, bool force) const {
  oci::ContainerDirectory directory(root_, id);
  TANDEM_ASSIGN_OR_RETURN(UniqueFd locked, directory.lock());
  // Another delete may have removed it while this one waited for the lock.
  TANDEM_ASSIGN_OR_RETURN(oci::LoadedContainer loaded, directory.load());
  TANDEM_TRY(oci::checkOperation(oci::Operation::kDelete, loaded.status, force));
  TANDEM_ASSIGN_OR_RETURN(CgroupMounts mounts, detectCgroupMounts());
  Cgroup cgroup = Cgroup::adoptAt(mounts, loaded.record.cgroupPath);
  if (auto process = openProcess(loaded.record.pid, loaded.record.pidStartTime)) {
    (void)signalProcess(process->get(), SIGKILL);
    (void)waitProcessEnd(process->get(), std::chrono::seconds(10));
  }
  // Kills what else is left in the cgroup (with --force, or a created container's process).
  TANDEM_TRY(cgroup.remove());
  auto specText = directory.recordedConfig();
  auto spec = specText ? oci::parseSpec(*specText) : Result<oci::Spec>(specText.error());
  if (spec) {
    std::string state = oci::stateJson(loaded.record, oci::ContainerStatus::kStopped).dump();
    if (auto hooks = oci::runHooks(spec->hooks.poststop, state, "poststop"); !hooks) {
      spdlog::warn("{}", hooks.error().describe());
    }
  }
  return removeTree(directory.path());
}

Result<int> BundleRuntime::exec(const std::string& id, const ExecRequest& request) const {
  oci::ContainerDirectory directory(root_, id);
  TANDEM_ASSIGN_OR_RETURN(oci::LoadedContainer loaded, directory.load());
  TANDEM_TRY(oci::checkOperation(oci::Operation::kExec, loaded.status));
  if (loaded.record.isolation != "container") {
    // Joining its first process's namespaces would put the process on the host.
    return Error("container " + id + " runs at " + loaded.record.isolation +
                 " level, where exec goes through its guest agent");
  }
  TANDEM_ASSIGN_OR_RETURN(std::string specText, directory.recordedConfig());
  TANDEM_ASSIGN_OR_RETURN(oci::Spec spec, oci::parseSpec(specText));
  TANDEM_ASSIGN_OR_RETURN(std::vector<sock_filter> seccompProgram, seccompProgramFor(spec));
  ExecTarget target{id, loaded.record.pid, loaded.record.pidStartTime};
  return execInBundle(program_, target, loaded.record.cgroupPath, seccompProgram, request);
}

Result<std::string> BundleRuntime::processTemplate(const std::string& id) const {
  oci::ContainerDirectory directory(root_, id);
  TANDEM_TRY(directory.load());
  TANDEM_ASSIGN_OR_RETURN(std::string specText, directory.recordedConfig());
  auto json = nlohmann::json::parse(specText, nullptr, false);
  if (json.is_discarded() || !json.contains("process")) {
    return Error("the recorded config.json of container " + id + " has no process");
  }
  return json["process"].dump();
}

Result<std::vector<std::string>> BundleRuntime::list() const {
  std::vector<std::string> ids;
  DIR* stream = ::opendir(root_.c_str());
  if (stream == nullptr) {
    if (errno == ENOENT) return ids;
    return Error::fromErrno("cannot list " + root_);
  }
  while (dirent* entry = ::readdir(stream)) {
    std::string name = entry->d_name;
    if (name != "." && name != ".." && pathExists(root_ + "/" + name + "/state.json")) {
      ids.push_back(name);
    }
  }
  ::closedir(stream);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace tandem::container

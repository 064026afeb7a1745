#include "tools/oci/vm_bundle.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/cgroup.h"
#include "common/child_process.h"
#include "common/file.h"
#include "common/log.h"
#include "common/oci/bundle_workload.h"
#include "common/process.h"
#include "common/process_identity.h"
#include "common/state_directory.h"
#include "container/oci/bundle_cgroup.h"
#include "vmm/agent_client.h"
#include "vmm/vm_backend.h"

namespace tandem::oci_cli {

namespace {

constexpr const char* kWorkloadFile = "workload.json";

// The microVM's own folder (vms/ID: its config, its vsock socket) lives inside the container's,
// and goes with it at delete.
vmm::VmBackendConfig vmConfigFor(const oci::ContainerDirectory& directory) {
  return vmBundleConfig(directory.path());
}

// tandem-vmm opens /dev/kvm, /dev/net/tun and the like: its cgroup allows every device, and
// the guest kernel is the boundary.
std::vector<DeviceRule> allDevices() {
  return {{'c', -1, -1, "rwm"}, {'b', -1, -1, "rwm"}};
}

bool isFolder(const std::string& path) {
  return isDirectory(path);
}

}  // namespace

vmm::VmBackendConfig vmBundleConfig(const std::string& stateRoot) {
  vmm::VmBackendConfig config;
  config.kernelPath = vmm::defaultGuestKernel();
  config.guestInitPath = vmm::defaultGuestInit();
  config.stateRoot = stateRoot;
  config.ownCgroup = false;
  return config;
}

Result<pid_t> createVmBundle(const std::string& root, const std::string& program,
                             const container::CreateOptions& options, const oci::Bundle& bundle) {
  TANDEM_ASSIGN_OR_RETURN(
      oci::BundleWorkload mapped,
      oci::workloadFromBundle(bundle.spec, options.id, bundle.rootfs, isFolder));
  for (const std::string& skipped : mapped.skipped) {
    spdlog::debug("microVM {}: {}", options.id, skipped);
  }
  oci::ContainerDirectory directory(root, options.id);
  TANDEM_ASSIGN_OR_RETURN(
      std::string cgroupPath,
      container::cgroupPathFor(bundle.spec.linux.cgroupsPath, options.id, options.systemdCgroup));
  TANDEM_ASSIGN_OR_RETURN(CgroupMounts mounts, detectCgroupMounts());
  TANDEM_TRY(directory.create());
  StateDirectory state(directory.path());
  oci::ContainerRecord record{
      options.id,        bundle.path, bundle.rootfs,           0,          0,
      oci::rfc3339Now(), false,       bundle.spec.annotations, cgroupPath, "vm"};
  TANDEM_TRY(directory.save(record));
  TANDEM_TRY(directory.saveConfig(bundle.specText));
  TANDEM_TRY(writeFile(directory.path() + "/" + kWorkloadFile,
                       toJson(mapped.workload).dump(2) + "\n", 0600));
  TANDEM_TRY(directory.makeExecFifo());
  TANDEM_ASSIGN_OR_RETURN(Cgroup cgroup, Cgroup::createAt(mounts, cgroupPath, {}, allDevices()));
  std::string logLevel(spdlog::level::to_string_view(spdlog::get_level()).data());
  pid_t pid = ::fork();
  if (pid < 0) return Error::fromErrno("cannot start the microVM's process");
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<std::string> args{program, "--log-level", logLevel, "vm-process", root, options.id};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    ::_exit(kExitCannotExecute);
  }
  ChildGuard guard(pid);
  TANDEM_TRY(cgroup.addProcess(pid));
  record.pid = pid;
  record.pidStartTime = processStartTime(pid).value_or(0);
  record.createFinished = true;
  TANDEM_TRY(directory.save(record));
  if (!options.pidFile.empty()) {
    TANDEM_TRY(oci::writeAtomically(options.pidFile, std::to_string(pid)));
  }
  cgroup.release();
  state.keep();
  guard.reaped();
  return pid;
}

int runVmProcess(const std::string& root, const std::string& id) {
  oci::ContainerDirectory directory(root, id);
  auto fail = [&](const Error& error) {
    std::cerr << "tandem-oci: microVM " << id << ": " << error.describe() << "\n";
    return kExitRuntimeError;
  };
  auto text = readFile(directory.path() + "/" + kWorkloadFile);
  if (!text) return fail(text.error());
  auto json = nlohmann::json::parse(*text, nullptr, false);
  auto workload = json.is_discarded() ? Result<Workload>(Error("workload.json is damaged"))
                                      : workloadFromJson(json);
  if (!workload) return fail(workload.error());
  if (auto started = oci::awaitStart(directory.fifoPath()); !started) return fail(started.error());
  vmm::VmBackend backend(vmConfigFor(directory));
  auto outcome = backend.run(*workload, {});
  if (!outcome) return fail(outcome.error());
  if (!outcome->launchError.empty()) std::cerr << "tandem-oci: " << outcome->launchError << "\n";
  return outcome->exitCode();
}

Result<int> execInVmBundle(const std::string& root, const std::string& id,
                           const container::ExecRequest& request) {
  oci::ContainerDirectory directory(root, id);
  TANDEM_ASSIGN_OR_RETURN(oci::Process process, oci::parseProcess(request.processText));
  if (process.terminal) {
    return Error("exec with a terminal is not offered in a microVM yet; run it without one");
  }
  TANDEM_ASSIGN_OR_RETURN(Workload workload,
                          readWorkloadConfig(vmm::vmStateDirectory(directory.path(), id)));
  workload.command = process.args;
  workload.env = process.env;
  workload.workdir = process.cwd;
  workload.user.spec = std::to_string(process.uid) + ":" + std::to_string(process.gid);
  workload.user.uid = process.uid;
  workload.user.gid = process.gid;
  workload.user.additionalGids.assign(process.additionalGids.begin(), process.additionalGids.end());
  std::string socket = vmm::vsockSocketPath(directory.path(), id);
  // The session to the guest agent, relayed by a process whose pid and exit code stand for the
  // guest process's (the caller waits for it, or with --detach its subreaper does).
  sigset_t forwarded = signalSet({SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD});
  SignalBlock blocked(forwarded);
  UniqueFd signals(::signalfd(-1, &forwarded, SFD_CLOEXEC));
  if (!signals) return Error::fromErrno("cannot create a signalfd for the process's signals");
  TANDEM_ASSIGN_OR_RETURN(UniqueFd agent, vmm::connectToAgent(socket));
  pid_t relay = ::fork();
  if (relay < 0) return Error::fromErrno("cannot start the exec relay");
  if (relay == 0) {
    vmm::ExecStreams streams;
    streams.stdinFd = STDIN_FILENO;
    streams.signalFd = signals.get();
    auto exit = vmm::execInGuest(agent.get(), guest::AgentFrame::kExec, workload, streams);
    if (!exit) {
      std::cerr << "tandem-oci: exec in microVM " << id << ": " << exit.error().describe() << "\n";
      ::_exit(kExitRuntimeError);
    }
    ::_exit(exit->signal ? 128 + *exit->signal : *exit->exitCode);
  }
  agent.reset();
  if (!request.pidFile.empty()) {
    TANDEM_TRY(oci::writeAtomically(request.pidFile, std::to_string(relay)));
  }
  if (request.detach) return 0;
  TANDEM_ASSIGN_OR_RETURN(ExitStatus status, waitForwardingSignals(relay, signals.get()));
  return status.shellCode();
}

}  // namespace tandem::oci_cli

// tandem run: builds a Workload from the command line, lets the scheduler's policy pick the
// isolation level, and hands it to a monitor that runs it: to completion with tandem attached, or
// in the background with -d.
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <iostream>
#include <memory>

#include "common/child_process.h"
#include "common/log.h"
#include "common/size.h"
#include "container/runtime.h"
#include "scheduler/isolation_policy.h"
#include "scheduler/operator_policy.h"
#include "scheduler/workload_monitor.h"
#include "scheduler/workload_store.h"
#include "tools/tandem/commands.h"
#include "tools/tandem/image_workload.h"
#include "tools/tandem/registry_client.h"
#include "tools/tandem/verb_options.h"
#include "vmm/vm_backend.h"

namespace po = boost::program_options;

namespace tandem::cli {

namespace {

po::options_description runOptions() {
  po::options_description options(
      "tandem run [OPTIONS] IMAGE [COMMAND [ARG...]]\n"
      "tandem run [OPTIONS] --rootfs DIR|--initramfs FILE [--] COMMAND [ARG...]");
  options.add_options()("help,h", "show this help")(
      "isolation", po::value<std::string>()->default_value("auto"),
      "container, vm or auto (decided from the options below, the host and the operator's "
      "policy; tandem explain shows how)")("rootfs", po::value<std::string>(),
                                           "root filesystem folder (never modified)")(
      "entrypoint", po::value<std::string>(),
      "replace the image's entrypoint (\"\" for none); the image's Cmd is dropped too")(
      "name", po::value<std::string>(), "a name for the workload")(
      "pull", po::value<std::string>()->default_value("missing"),
      "pull the image first: missing (when the store lacks it), always or never")(
      "platform", po::value<std::string>(),
      "OS/ARCH[/VARIANT] to pull from a multi-platform image (default: this host's)")(
      "memory,m", po::value<std::string>(), "memory limit, e.g. 32M")(
      "memory-swap", po::value<std::string>(),
      "memory plus swap limit, or -1 for unlimited swap (default: no swap)")(
      "cpus", po::value<std::string>(),
      "CPU quota in CPUs, e.g. 0.5; for a microVM, its vCPUs (rounded up)")(
      "cpu-shares", po::value<std::uint64_t>(), "relative CPU weight (2-262144)")(
      "cpuset-cpus", po::value<std::string>(), "CPUs the workload may use, e.g. 0-1")(
      "cpuset-mems", po::value<std::string>(), "memory nodes the workload may use")(
      "pids-limit", po::value<std::int64_t>(), "maximum number of processes (-1: unlimited)")(
      "storage-opt", po::value<std::vector<std::string>>()->composing(),
      "size=SIZE: the most a container's writable layer holds, e.g. 1G (an ext4 file of that "
      "size; writes past it fail with ENOSPC); a microVM's is its root disk's size")(
      "env,e", po::value<std::vector<std::string>>()->composing(), "set KEY=VALUE")(
      "hostname", po::value<std::string>(), "hostname inside the workload")(
      "user,u", po::value<std::string>(), "USER[:GROUP], names or numbers")(
      "group-add", po::value<std::vector<gid_t>>()->composing(), "additional group id")(
      "workdir,w", po::value<std::string>(), "working directory inside the workload")(
      "read-only", po::bool_switch(), "mount the root filesystem read-only")(
      "stats", po::bool_switch(),
      "when the workload ends, print where its start went to stderr as JSON: a container's "
      "phases (clone and namespaces, mounts, cgroups, exec), a microVM's boot timeline, VM exits "
      "and VMM memory")(
      "volume,v", po::value<std::vector<std::string>>()->composing(),
      "HOST:PATH[:ro|rw][,disk]: show a host folder or file at PATH (a microVM takes a folder "
      "read-only, copied at start); with disk, HOST is a file holding ext4, mounted at PATH (a "
      "microVM's extra virtio-blk drive, a container's loop device); repeatable")(
      "publish,p", po::value<std::vector<std::string>>()->composing(),
      "relay a host port to the workload's port on the bridge network, "
      "[ADDRESS:]HOSTPORT:PORT (TCP; repeatable; needs --network bridge)")(
      "network", po::value<std::string>()->default_value("none"),
      "none (loopback only), host (the host's network; containers only), bridge (an address on "
      "tandem's bridge tandem0, 10.89.0.0/16, for containers and microVMs alike) or "
      "container:NAME (the network namespace of running container NAME, as a pod's containers "
      "share one)")("tty,t", po::bool_switch(), "give the workload a terminal")(
      "interactive,i", po::bool_switch(),
      "accepted for docker compatibility: stdin is always attached")(
      "init", po::bool_switch(), "run tandem's init as PID 1 to reap zombies and forward signals")(
      "rm", po::bool_switch(), "remove the workload's state when it exits")(
      "log-opt", po::value<std::vector<std::string>>()->composing(),
      "max-size=SIZE: rotate the workload's log past SIZE; max-file=N: keep N files in all "
      "(default 1: the log starts again)")(
      "detach,d", po::bool_switch(),
      "run in the background: print the workload's id once it runs, and leave it to its "
      "monitor (its output goes to its log: tandem logs)")(
      "cap-add", po::value<std::vector<std::string>>()->composing(), "add a capability")(
      "cap-drop", po::value<std::vector<std::string>>()->composing(), "drop a capability")(
      "ulimit", po::value<std::vector<std::string>>()->composing(), "NAME=SOFT[:HARD]")(
      "uidmap", po::value<std::vector<std::string>>()->composing(),
      "CONTAINER:HOST:COUNT; with --gidmap, runs in a user namespace")(
      "gidmap", po::value<std::vector<std::string>>()->composing(), "CONTAINER:HOST:COUNT")(
      "security-opt", po::value<std::vector<std::string>>()->composing(),
      "seccomp=unconfined disables the seccomp filter")("log-level", po::value<std::string>(),
                                                        "trace, debug, info, warn or error")(
      "command", po::value<std::vector<std::string>>(), "the command and its arguments");
  po::options_description placement("what --isolation auto weighs");
  placement.add_options()("trust", po::value<std::string>()->default_value("unknown"),
                          "trusted, untrusted (always a microVM) or unknown (the strongest level "
                          "that can run)")(
      "class", po::value<std::string>(),
      "the workload's class for the operator's policy (default: its trust)")(
      "own-kernel", po::bool_switch(),
      "it needs a kernel of its own (modules, sysctls outside its namespaces): a microVM")(
      "latency-sensitive", po::bool_switch(),
      "its start time matters more than its isolation: a container, unless untrusted")(
      "policy", po::value<std::string>(),
      "the operator's isolation policy (default: /etc/tandem/policy.json, if there is one)")(
      "restart", po::value<std::string>()->default_value("no"),
      "run it again when it ends: no, on-failure[:N] (after a non-zero exit, at most N times) or "
      "always (until stopped), waiting 100 ms, doubling up to a minute, in between")(
      "queue", po::value<double>(),
      "when the host's CPUs or memory are all reserved, wait up to SECONDS for room instead of "
      "failing at once");
  options.add(placement);
  po::options_description vmOptions("microVM options");
  vmOptions.add_options()("kernel", po::value<std::string>(),
                          "guest kernel, bzImage or ELF vmlinux (default: $TANDEM_GUEST_KERNEL, "
                          "else the guest-kernel-config build cache)")(
      "initramfs", po::value<std::string>(),
      "boot this initramfs (tandem-mkinitramfs) instead of packing --rootfs")(
      "timeout", po::value<double>(), "stop the microVM after this many seconds")(
      "hugepages", po::bool_switch(), "back guest memory with 2 MiB hugepages")(
      "disk", po::value<std::vector<std::string>>()->composing(),
      "attach a host file as a virtio-blk disk, PATH[:ro|:rw] (the guest's /dev/vda, /dev/vdb, "
      "... in order; repeatable)")(
      "tap", po::value<std::vector<std::string>>()->composing(),
      "give the microVM a virtio-net interface over a host TAP device (created when missing, "
      "removed after), TAP[,bridge=BRIDGE][,mac=MAC][,host=ADDRESS/PREFIX][,guest=ADDRESS/PREFIX]"
      "[,gateway=ADDRESS]: host= addresses the TAP, guest= the guest's ethN, with a default "
      "route through the gateway (default: the host address); repeatable")(
      "console", po::bool_switch(), "copy the guest kernel's console to stderr")(
      "vmm-seccomp", po::value<std::string>()->default_value("enforce"),
      "the VMM threads' syscall allowlists: enforce (a call outside them ends the microVM), log "
      "(the host kernel logs such calls and lets them through) or off");
  options.add(vmOptions);
  po::options_description registryOptions("when the image is pulled");
  addRegistryAccessOptions(registryOptions);
  options.add(registryOptions);
  return options;
}

template <class T>
std::vector<T> many(const po::variables_map& vm, const char* key) {
  return vm.count(key) ? vm[key].as<std::vector<T>>() : std::vector<T>{};
}

Result<Workload> workloadFromOptions(const po::variables_map& vm) {
  Workload w;
  TANDEM_ASSIGN_OR_RETURN(w.isolation, parseIsolation(vm["isolation"].as<std::string>()));
  std::string network = vm["network"].as<std::string>();
  if (network.starts_with("container:")) {
    // Resolved to the running container once the store is at hand (resolveNetworkPeer).
    w.network = NetworkMode::kContainer;
    w.networkPeer = NetworkPeer{network.substr(10), 0, 0};
  } else {
    TANDEM_ASSIGN_OR_RETURN(w.network, parseNetworkMode(network));
  }
  for (const auto& text : many<std::string>(vm, "publish")) {
    TANDEM_ASSIGN_OR_RETURN(PortMapping port, parsePortMapping(text));
    w.ports.push_back(port);
  }
  for (const auto& text : many<std::string>(vm, "volume")) {
    TANDEM_ASSIGN_OR_RETURN(Volume volume, parseVolume(text));
    w.volumes.push_back(std::move(volume));
  }
  if (vm.count("rootfs")) w.rootfs = vm["rootfs"].as<std::string>();
  if (vm.count("name")) w.name = vm["name"].as<std::string>();
  if (vm.count("memory")) {
    TANDEM_ASSIGN_OR_RETURN(w.limits.memoryBytes,
                            parseSize(vm["memory"].as<std::string>()).context("--memory"));
  }
  if (vm.count("memory-swap")) {
    std::string text = vm["memory-swap"].as<std::string>();
    if (text == "-1") {
      w.limits.memorySwapBytes = -1;
    } else {
      TANDEM_ASSIGN_OR_RETURN(std::uint64_t bytes, parseSize(text).context("--memory-swap"));
      w.limits.memorySwapBytes = static_cast<std::int64_t>(bytes);
    }
  }
  if (vm.count("cpus")) {
    TANDEM_ASSIGN_OR_RETURN(w.limits.cpuMilli,
                            parseMilli(vm["cpus"].as<std::string>()).context("--cpus"));
  }
  if (vm.count("cpu-shares")) w.limits.cpuShares = vm["cpu-shares"].as<std::uint64_t>();
  if (vm.count("cpuset-cpus")) w.limits.cpusetCpus = vm["cpuset-cpus"].as<std::string>();
  if (vm.count("cpuset-mems")) w.limits.cpusetMems = vm["cpuset-mems"].as<std::string>();
  if (vm.count("pids-limit")) w.limits.pidsLimit = vm["pids-limit"].as<std::int64_t>();
  for (const auto& option : many<std::string>(vm, "storage-opt")) {
    if (!option.starts_with("size=")) {
      return Error(
          "--storage-opt takes size=SIZE, the one storage option tandem has, not '" + option + "'",
          EINVAL);
    }
    TANDEM_ASSIGN_OR_RETURN(w.limits.storageBytes,
                            parseSize(option.substr(5)).context("--storage-opt size"));
  }
  w.env = many<std::string>(vm, "env");
  if (vm.count("hostname")) w.hostname = vm["hostname"].as<std::string>();
  if (vm.count("user")) w.user.spec = vm["user"].as<std::string>();
  w.user.additionalGids = many<gid_t>(vm, "group-add");
  if (vm.count("workdir")) w.workdir = vm["workdir"].as<std::string>();
  w.readOnlyRootfs = vm["read-only"].as<bool>();
  w.tty = vm["tty"].as<bool>();
  w.init = vm["init"].as<bool>();
  w.removeOnExit = vm["rm"].as<bool>();
  w.capAdd = many<std::string>(vm, "cap-add");
  w.capDrop = many<std::string>(vm, "cap-drop");
  for (const auto& text : many<std::string>(vm, "ulimit")) {
    TANDEM_ASSIGN_OR_RETURN(Rlimit limit, parseRlimit(text));
    w.rlimits.push_back(limit);
  }
  for (const auto& text : many<std::string>(vm, "uidmap")) {
    TANDEM_ASSIGN_OR_RETURN(IdMapping mapping, parseIdMapping(text));
    w.uidMappings.push_back(mapping);
  }
  for (const auto& text : many<std::string>(vm, "gidmap")) {
    TANDEM_ASSIGN_OR_RETURN(IdMapping mapping, parseIdMapping(text));
    w.gidMappings.push_back(mapping);
  }
  for (const auto& text : many<std::string>(vm, "security-opt")) {
    if (text == "seccomp=unconfined") {
      w.seccomp = false;
    } else {
      return Error("unsupported --security-opt \"" + text + "\"; supported: seccomp=unconfined");
    }
  }
  w.command = many<std::string>(vm, "command");
  return w;
}

Result<vmm::VmBackendConfig> vmConfigFromOptions(const po::variables_map& vm) {
  vmm::VmBackendConfig config;
  config.kernelPath =
      vm.count("kernel") ? vm["kernel"].as<std::string>() : vmm::defaultGuestKernel();
  config.guestInitPath = vmm::defaultGuestInit();
  if (vm.count("initramfs")) config.initramfsPath = vm["initramfs"].as<std::string>();
  if (vm.count("timeout")) {
    double seconds = vm["timeout"].as<double>();
    if (!(seconds > 0)) {
      return Error("--timeout must be a positive number of seconds");
    }
    config.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
  }
  config.hugepages = vm["hugepages"].as<bool>();
  TANDEM_ASSIGN_OR_RETURN(config.seccomp,
                          vmm::parseSeccompMode(vm["vmm-seccomp"].as<std::string>()));
  for (const auto& text : many<std::string>(vm, "disk")) {
    TANDEM_ASSIGN_OR_RETURN(vmm::DiskSpec disk, vmm::parseDiskSpec(text));
    config.disks.push_back(std::move(disk));
  }
  if (config.disks.size() > vmm::kMaxDisks) {
    return Error("a microVM takes at most " + std::to_string(vmm::kMaxDisks) + " --disk files");
  }
  for (const auto& text : many<std::string>(vm, "tap")) {
    TANDEM_ASSIGN_OR_RETURN(vmm::NicSpec nic, vmm::parseNicSpec(text));
    config.nics.push_back(std::move(nic));
  }
  if (config.nics.size() > vmm::kMaxNics) {
    return Error("a microVM takes at most " + std::to_string(vmm::kMaxNics) + " --tap interfaces");
  }
  config.showConsole = vm["console"].as<bool>();
  config.stats = vm["stats"].as<bool>();
  return config;
}

Result<scheduler::PlacementRequest> placementFromOptions(const po::variables_map& vm,
                                                         const Workload& workload) {
  scheduler::PlacementRequest request;
  request.requested = workload.isolation;
  TANDEM_ASSIGN_OR_RETURN(request.trust, scheduler::parseTrust(vm["trust"].as<std::string>()));
  if (vm.count("class")) request.workloadClass = vm["class"].as<std::string>();
  request.needsOwnKernel = vm["own-kernel"].as<bool>();
  request.latencySensitive = vm["latency-sensitive"].as<bool>();
  request.joinsContainerNetwork = workload.network == NetworkMode::kContainer;
  request.memoryBytes = workload.limits.memoryBytes;
  request.cpuMilli = workload.limits.cpuMilli;
  return request;
}

Result<scheduler::OperatorPolicy> policyFromOptions(const po::variables_map& vm) {
  if (vm.count("policy")) {
    return scheduler::loadOperatorPolicy(vm["policy"].as<std::string>(), /*required=*/true);
  }
  return scheduler::loadOperatorPolicy(scheduler::kDefaultPolicyPath, /*required=*/false);
}

// The decision for `request`, from this host and the operator's policy.
Result<scheduler::IsolationChoice> decide(const po::variables_map& vm,
                                          const scheduler::PlacementRequest& request,
                                          const IsolationBackend& containers,
                                          const IsolationBackend& vms) {
  TANDEM_ASSIGN_OR_RETURN(scheduler::OperatorPolicy policy, policyFromOptions(vm));
  scheduler::HostFacts host{containers.available(), vms.available(),
                            scheduler::hostMemoryAvailable()};
  return scheduler::chooseIsolation(request, host, policy);
}

// --network container:NAME: the running container NAME names, by its first process.
Status resolveNetworkPeer(const std::string& stateRoot, Workload& workload) {
  if (!workload.networkPeer) return okStatus();
  TANDEM_ASSIGN_OR_RETURN(scheduler::WorkloadStore store,
                          scheduler::WorkloadStore::open(stateRoot));
  const std::string reference = workload.networkPeer->id;
  TANDEM_ASSIGN_OR_RETURN(scheduler::WorkloadRecord peer,
                          store.find(reference).context("--network container:" + reference));
  if (peer.isolation != Isolation::kContainer) {
    return Error("--network container:" + reference +
                 " names a microVM; only a container's "
                 "network namespace can be joined");
  }
  if (peer.state != scheduler::WorkloadState::kRunning || peer.workloadPid == 0) {
    return Error("--network container:" + reference + ": that container is not running (" +
                 scheduler::toString(peer.state) + ")");
  }
  workload.networkPeer = NetworkPeer{peer.id, peer.workloadPid, peer.workloadStart};
  return okStatus();
}

enum class PullPolicy { kMissing, kAlways, kNever };

Result<PullPolicy> parsePullPolicy(const std::string& text) {
  if (text == "missing") return PullPolicy::kMissing;
  if (text == "always") return PullPolicy::kAlways;
  if (text == "never") return PullPolicy::kNever;
  return Error("--pull takes missing, always or never, not \"" + text + "\"");
}

// The stored image a run names, pulled first as the policy says. What a pull prints goes to
// stderr, as docker's does, so the workload's stdout stays its own.
Result<ImageWorkload> findOrPull(const std::string& stateRoot, const std::string& imageText,
                                 PullPolicy policy, const po::variables_map& vm) {
  PullRequest pull;
  pull.reference = imageText;
  if (vm.count("platform")) pull.platform = vm["platform"].as<std::string>();
  pull.access = registryAccessFrom(vm);
  if (policy == PullPolicy::kAlways) {
    TANDEM_TRY(pullAndRegister(stateRoot, pull, std::cerr));
    return ImageWorkload::find(stateRoot, imageText);
  }
  auto found = ImageWorkload::find(stateRoot, imageText);
  if (found || policy == PullPolicy::kNever || found.error().errnum() != ENOENT) {
    if (!found && policy == PullPolicy::kNever) {
      return Error(found.error().message() + "; --pull never forbids pulling it", ENOENT);
    }
    return found;
  }
  std::cerr << "Unable to find image '" << imageText << "' locally\n";
  TANDEM_TRY(pullAndRegister(stateRoot, pull, std::cerr));
  return ImageWorkload::find(stateRoot, imageText);
}

// Parses run's (and explain's) command line into `vm`. Answers an exit code when the command is
// done (help shown, or a usage error).
std::optional<int> parseRunArguments(const std::vector<std::string>& args, po::variables_map& vm) {
  po::options_description options = runOptions();
  // Everything after "--", or from the first word that is not an option (the image, or the
  // command with --rootfs), is the workload's, even when it looks like an option: docker run's
  // rule, so that `tandem run busybox sh -c ...` passes -c to sh.
  auto separator = args.begin() + static_cast<std::ptrdiff_t>(firstOperand(args, options));
  std::vector<std::string> ours(args.begin(), separator);
  if (separator != args.end() && *separator == "--") {
    ++separator;
  }
  po::positional_options_description positional;
  positional.add("command", -1);
  try {
    po::store(po::command_line_parser(ours).options(options).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return fail(Error(std::string(e.what()) + "; see tandem run --help"));
  }
  if (vm.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  if (separator != args.end()) {
    auto command = many<std::string>(vm, "command");
    command.insert(command.end(), separator, args.end());
    vm.erase("command");
    vm.insert({"command", po::variable_value(command, false)});
  }
  if (vm.count("log-level")) {
    if (auto status = setLogLevel(vm["log-level"].as<std::string>()); !status) {
      return fail(status.error());
    }
  }
  return std::nullopt;
}

}  // namespace

int explainCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  po::variables_map vm;
  if (auto done = parseRunArguments(args, vm)) return *done;
  auto workload = workloadFromOptions(vm);
  if (!workload) return fail(workload.error());
  auto vmConfig = vmConfigFromOptions(vm);
  if (!vmConfig) return fail(vmConfig.error());
  vmConfig->stateRoot = global.stateRoot;
  container::ContainerBackend containerBackend(container::RuntimeConfig{global.stateRoot});
  vmm::VmBackend vmBackend(*vmConfig);
  auto request = placementFromOptions(vm, *workload);
  if (!request) return fail(request.error());
  auto choice = decide(vm, *request, containerBackend, vmBackend);
  if (!choice) {
    // What would be refused, and why, is the answer: printed as such, with a failing status.
    std::cout << "refused: " << choice.error().describe() << "\n";
    return kExitRuntimeError;
  }
  std::cout << "isolation: " << toString(choice->level) << "\n"
            << "because: " << choice->reason.substr(choice->reason.find(": ") + 2) << "\n"
            << "weighed:\n";
  for (const std::string& line : choice->considered) {
    std::cout << "  - " << line << "\n";
  }
  auto store = scheduler::WorkloadStore::open(global.stateRoot);
  auto running = store ? store->runningReservations()
                       : Result<std::vector<scheduler::Reservation>>(store.error());
  if (!running) {
    std::cout << "admission: unknown (" << running.error().describe() << ")\n";
    return 0;
  }
  scheduler::Reservation wanted = scheduler::reservationFor(choice->level, *request);
  Status admitted = scheduler::admit(scheduler::hostCapacity(), *running, wanted);
  std::cout << "admission: it would reserve " << formatApproximateSize(wanted.memoryBytes)
            << " and " << static_cast<double>(wanted.cpuMilli) / 1000 << " CPU; "
            << (admitted ? "it fits beside the " + std::to_string(running->size()) +
                               " running workload" + (running->size() == 1 ? "" : "s")
                         : admitted.error().message())
            << "\n";
  return 0;
}

int runCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  po::variables_map vm;
  if (auto done = parseRunArguments(args, vm)) return *done;
  auto workload = workloadFromOptions(vm);
  if (!workload) {
    return fail(workload.error());
  }
  // Without a rootfs folder or an initramfs, the first word names an image, as in docker run.
  std::optional<ImageWorkload> image;
  if (!vm.count("rootfs") && !vm.count("initramfs")) {
    if (workload->command.empty()) {
      return fail(Error("tandem run needs an image, or --rootfs DIR and a command"));
    }
    auto policy = parsePullPolicy(vm["pull"].as<std::string>());
    if (!policy) {
      return fail(policy.error());
    }
    auto found = findOrPull(global.stateRoot, workload->command.front(), *policy, vm);
    if (!found) {
      return fail(found.error());
    }
    image.emplace(std::move(*found));
    image::RunOverrides given;
    given.args.assign(workload->command.begin() + 1, workload->command.end());
    if (vm.count("entrypoint")) {
      std::string entrypoint = vm["entrypoint"].as<std::string>();
      given.entrypoint =
          entrypoint.empty() ? std::vector<std::string>{} : std::vector<std::string>{entrypoint};
    }
    given.workdirGiven = vm.count("workdir") > 0;
    given.userGiven = vm.count("user") > 0;
    if (auto status = image->applyDefaults(given, *workload); !status) {
      return fail(status.error());
    }
  } else if (vm.count("entrypoint")) {
    return fail(Error("--entrypoint applies to images; with --rootfs, give the command itself"));
  }
  if (auto status = validate(*workload); !status) {
    return fail(status.error());
  }
  if (auto peer = resolveNetworkPeer(global.stateRoot, *workload); !peer) {
    return fail(peer.error());
  }

  auto vmConfig = vmConfigFromOptions(vm);
  if (!vmConfig) {
    return fail(vmConfig.error());
  }
  vmConfig->stateRoot = global.stateRoot;
  container::ContainerBackend containerBackend(
      container::RuntimeConfig{.stateRoot = global.stateRoot, .stats = vm["stats"].as<bool>()});
  vmm::VmBackend vmBackend(*vmConfig);
  auto request = placementFromOptions(vm, *workload);
  if (!request) {
    return fail(request.error());
  }
  auto choice = decide(vm, *request, containerBackend, vmBackend);
  if (!choice) {
    return fail(choice.error());
  }
  spdlog::info("isolation {}", choice->reason);
  if (choice->level != Isolation::kVm && !vmConfig->disks.empty()) {
    return fail(Error("--disk attaches files to microVMs; this workload runs in a container"));
  }
  if (choice->level != Isolation::kVm && !vmConfig->nics.empty()) {
    return fail(
        Error("--tap gives microVMs a network interface; this workload runs in a "
              "container"));
  }
  if (image) {
    if (auto status = image->prepareRootfs(choice->level, *workload); !status) {
      return fail(status.error());
    }
    if (!workload->rootfsDisk.empty() && vmConfig->disks.size() >= vmm::kMaxDisks) {
      return fail(Error("an image's microVM boots from /dev/vda, which leaves room for " +
                        std::to_string(vmm::kMaxDisks - 1) + " --disk files"));
    }
  }
  IsolationBackend& backend = choice->level == Isolation::kVm
                                  ? static_cast<IsolationBackend&>(vmBackend)
                                  : static_cast<IsolationBackend&>(containerBackend);
  if (workload->id.empty()) {
    auto id = newWorkloadId();
    if (!id) {
      return fail(id.error());
    }
    workload->id = *id;
  }
  bool detached = vm["detach"].as<bool>();
  // Blocked before the monitor is forked, which inherits them blocked: one that arrives before
  // the backend is ready waits for it instead of killing the monitor.
  sigset_t passedOn = scheduler::signalsPassedOn();
  SignalBlock blocked(passedOn);
  UniqueFd signals(::signalfd(-1, &passedOn, SFD_CLOEXEC));
  if (!signals) {
    return fail(Error::fromErrno("cannot create a signalfd to pass signals on to the workload"));
  }
  std::chrono::milliseconds queueFor{0};
  if (vm.count("queue")) {
    double seconds = vm["queue"].as<double>();
    if (!(seconds >= 0)) return fail(Error("--queue takes a number of seconds, 0 or more"));
    queueFor = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
  }
  auto restart = scheduler::parseRestartPolicy(vm["restart"].as<std::string>());
  if (!restart) {
    return fail(restart.error());
  }
  if (restart->kind != scheduler::RestartPolicy::Kind::kNo && workload->removeOnExit) {
    return fail(Error("--restart and --rm conflict: a workload that runs again keeps its state"));
  }
  scheduler::LogLimits logLimits;
  for (const auto& option : many<std::string>(vm, "log-opt")) {
    if (auto applied = scheduler::applyLogOption(option, logLimits); !applied) {
      return fail(applied.error());
    }
  }
  auto monitor = scheduler::WorkloadMonitor::start(
      *workload, backend,
      {.stateRoot = global.stateRoot,
       .level = choice->level,
       .reason = scheduler::describe(*choice),
       .detached = detached,
       .reservation = scheduler::reservationFor(choice->level, *request),
       .capacity = scheduler::hostCapacity(),
       .queueFor = queueFor,
       .restart = *restart,
       .logLimits = logLimits});
  if (!monitor) {
    return fail(monitor.error());
  }
  // Attached, tandem stays until the workload ends, passing signals on; detached, it leaves once
  // the workload runs. Either way the monitor, not this process, owns the workload.
  for (;;) {
    auto report = monitor->nextReport(detached ? -1 : signals.get());
    if (!report) {
      return fail(report.error());
    }
    if (report->kind == scheduler::MonitorReport::Kind::kQueued) {
      std::cerr << "tandem: queued: " << report->message << "\n";
      continue;
    }
    if (report->kind == scheduler::MonitorReport::Kind::kStarted) {
      if (!detached) continue;
      std::cout << workload->id << "\n";
      return 0;
    }
    if (!report->message.empty()) {
      std::cerr << "tandem: " << report->message << "\n";
    }
    (void)monitor->reap();
    return report->exitCode;
  }
}

}  // namespace tandem::cli

#include "tools/tandem/task_plan.h"

#include <algorithm>
#include <iostream>

#include "common/child_process.h"
#include "common/file.h"
#include "common/process.h"
#include "scheduler/isolation_policy.h"
#include "scheduler/operator_policy.h"
#include "tools/tandem/image_workload.h"
#include "tools/tandem/registry_client.h"
#include "vmm/task_vm.h"

namespace tandem::cli {
namespace {

using scheduler::ContainerDefinition;
using scheduler::TaskDefinition;

constexpr std::uint64_t kMiB = 1024 * 1024;

// The stored image a container names, pulled when the store lacks it (ECS pulls each task's
// images). What the pull prints goes to stderr.
Result<ImageWorkload> imageFor(const std::string& stateRoot, const std::string& reference) {
  auto found = ImageWorkload::find(stateRoot, reference);
  if (found || found.error().errnum() != ENOENT) return found;
  std::cerr << "Unable to find image '" << reference << "' locally\n";
  PullRequest pull;
  pull.reference = reference;
  TANDEM_TRY(pullAndRegister(stateRoot, pull, std::cerr));
  return ImageWorkload::find(stateRoot, reference);
}

Result<Workload> containerWorkload(const std::string& stateRoot, const std::string& taskId,
                                   const TaskDefinition& task, const ContainerDefinition& container,
                                   Isolation level) {
  auto image = imageFor(stateRoot, container.image);
  if (!image) return image.error().context("container \"" + container.name + "\"");
  TANDEM_ASSIGN_OR_RETURN(std::string id, newWorkloadId());
  Workload workload;
  workload.id = id;
  workload.name = task.family + "-" + taskId.substr(0, 8) + "-" + container.name;
  workload.isolation = level;
  workload.env = container.environment;
  workload.network = NetworkMode::kContainer;
  image::RunOverrides given;
  given.entrypoint = container.entryPoint;
  if (container.command) given.args = *container.command;
  if (auto applied = image->applyDefaults(given, workload); !applied) {
    return applied.error().context("container \"" + container.name + "\"");
  }
  if (container.memoryMiB) workload.limits.memoryBytes = *container.memoryMiB * kMiB;
  if (container.cpuUnits) workload.limits.cpuShares = std::max(2u, *container.cpuUnits);
  TANDEM_TRY(image->prepareRootfs(level, workload));
  return workload;
}

// The sandbox's root: only the pause program, replaced atomically when tandem's differs, so a
// running sandbox keeps the one it started with.
Result<std::string> sandboxRootfs(const std::string& stateRoot) {
  std::string root = stateRoot + "/task-sandbox";
  for (const char* dir : {"", "/proc", "/dev", "/sys", "/tmp", "/etc"}) {
    TANDEM_TRY(makeDirectories(root + dir));
  }
  std::string pause = companionProgramPath("TANDEM_PAUSE", "tandem-pause", "pause");
  auto program = readFile(pause);
  if (!program) {
    return program.error().context(
        "cannot read tandem-pause, which holds a task's network; set TANDEM_PAUSE to its path");
  }
  auto current = readFile(root + "/pause");
  if (!current || *current != *program) {
    std::string temporary = root + "/pause.tmp-" + std::to_string(::getpid());
    TANDEM_TRY(writeFile(temporary, *program, 0755));
    if (::rename(temporary.c_str(), (root + "/pause").c_str()) != 0) {
      Error error = Error::fromErrno("cannot put the pause program in " + root);
      ::unlink(temporary.c_str());
      return error;
    }
  }
  return root;
}

// Ports the task publishes, from every container's portMappings: ECS's hostPort defaults to the
// containerPort.
std::vector<PortMapping> publishedPorts(const TaskDefinition& task) {
  std::vector<PortMapping> ports;
  for (const ContainerDefinition& container : task.containers) {
    for (const scheduler::TaskPortMapping& mapping : container.portMappings) {
      ports.push_back({.hostPort = mapping.hostPort.value_or(mapping.containerPort),
                       .workloadPort = mapping.containerPort});
    }
  }
  return ports;
}

// What each container reserves: its own memory (or reservation) and CPU units, as ECS places
// them; a task that states task-level figures reserves those, on its first container.
std::vector<scheduler::Reservation> reservations(const TaskDefinition& task) {
  std::vector<scheduler::Reservation> each;
  for (const ContainerDefinition& container : task.containers) {
    scheduler::Reservation reservation;
    if (!task.memoryMiB) {
      reservation.memoryBytes = scheduler::reservedMemoryMiB(container) * kMiB;
    }
    if (!task.cpuUnits)
      reservation.cpuMilli = scheduler::cpuMilliFromUnits(container.cpuUnits.value_or(0));
    each.push_back(reservation);
  }
  if (task.memoryMiB) each.front().memoryBytes = *task.memoryMiB * kMiB;
  if (task.cpuUnits) each.front().cpuMilli = scheduler::cpuMilliFromUnits(*task.cpuUnits);
  return each;
}

// The guest memory of a task's microVM: the task's memory, as Fargate sizes a task; else what its
// containers ask for, on top of what the guest's kernel and tandem's init take for themselves.
constexpr std::uint64_t kTaskGuestBaseBytes = 64 * kMiB;

std::uint64_t taskVmMemory(const TaskDefinition& task) {
  if (task.memoryMiB) return *task.memoryMiB * kMiB;
  std::uint64_t sum = kTaskGuestBaseBytes;
  for (const ContainerDefinition& container : task.containers) {
    sum += scheduler::reservedMemoryMiB(container) * kMiB;
  }
  return std::max(sum, scheduler::kDefaultGuestMemoryBytes);
}

// The microVM that is the task's isolation unit: it boots the sandbox's root (the pause
// program) with every image the task's containers run from attached read-only, and reserves its
// guest memory and overhead for the whole task.
Status makeTaskVm(const TaskDefinition& task, const std::vector<Workload>& containers,
                  scheduler::TaskPlan& plan) {
  if (task.network == NetworkMode::kHost) {
    return Error(
        "a task at VM level cannot use the host's network (networkMode \"host\"): its "
        "containers share the microVM's; use \"awsvpc\", \"bridge\" or \"none\", or run it "
        "with --isolation container",
        EINVAL);
  }
  Workload& sandbox = plan.sandbox;
  for (const Workload& container : containers) {
    Volume image = vmm::imageDiskVolume(container.rootfsDisk);
    if (std::find(sandbox.volumes.begin(), sandbox.volumes.end(), image) == sandbox.volumes.end()) {
      sandbox.volumes.push_back(std::move(image));
    }
  }
  sandbox.limits.memoryBytes = taskVmMemory(task);
  if (task.cpuUnits) sandbox.limits.cpuMilli = scheduler::cpuMilliFromUnits(*task.cpuUnits);
  scheduler::PlacementRequest request;
  request.memoryBytes = sandbox.limits.memoryBytes;
  request.cpuMilli = sandbox.limits.cpuMilli;
  plan.sandboxReservation = scheduler::reservationFor(Isolation::kVm, request);
  // Inside the microVM, its containers take from its memory, not the host's.
  for (scheduler::Reservation& reservation : plan.reservations) reservation = {};
  return okStatus();
}

}  // namespace

boost::program_options::options_description taskPlacementOptions() {
  boost::program_options::options_description options("what --isolation auto weighs");
  options.add_options()("isolation",
                        boost::program_options::value<std::string>()->default_value("auto"),
                        "vm (one microVM for the task), container (containers sharing a network) "
                        "or auto (the definition's, else the policy's choice)")(
      "trust", boost::program_options::value<std::string>()->default_value("unknown"),
      "trusted, untrusted (always a microVM) or unknown (the strongest level that can run)")(
      "class", boost::program_options::value<std::string>()->default_value(""),
      "the task's class for the operator's policy (default: its trust)")(
      "policy", boost::program_options::value<std::string>()->default_value(""),
      "the operator's isolation policy (default: /etc/tandem/policy.json, if there is one)");
  return options;
}

Result<TaskPlacement> taskPlacementFrom(const boost::program_options::variables_map& vm) {
  TaskPlacement placement;
  TANDEM_ASSIGN_OR_RETURN(placement.requested, parseIsolation(vm["isolation"].as<std::string>()));
  placement.trust = vm["trust"].as<std::string>();
  placement.workloadClass = vm["class"].as<std::string>();
  placement.policyPath = vm["policy"].as<std::string>();
  return placement;
}

Result<scheduler::IsolationChoice> chooseTaskLevel(const TaskDefinition& definition,
                                                   const TaskPlacement& placement,
                                                   const IsolationBackend& containers,
                                                   const IsolationBackend& vms) {
  scheduler::PlacementRequest request;
  request.requested =
      placement.requested != Isolation::kAuto ? placement.requested : definition.isolation;
  TANDEM_ASSIGN_OR_RETURN(request.trust, scheduler::parseTrust(placement.trust));
  request.workloadClass = placement.workloadClass;
  // At VM level the task is one microVM of this size; at container level its containers
  // together hold at most as much.
  request.memoryBytes = taskVmMemory(definition);
  if (definition.cpuUnits) request.cpuMilli = scheduler::cpuMilliFromUnits(*definition.cpuUnits);
  TANDEM_ASSIGN_OR_RETURN(
      scheduler::OperatorPolicy policy,
      placement.policyPath.empty()
          ? scheduler::loadOperatorPolicy(scheduler::kDefaultPolicyPath, /*required=*/false)
          : scheduler::loadOperatorPolicy(placement.policyPath, /*required=*/true));
  scheduler::HostFacts host{containers.available(), vms.available(),
                            scheduler::hostMemoryAvailable()};
  return scheduler::chooseIsolation(request, host, policy);
}

Result<LoadedTask> loadTask(const std::string& path, const TaskPlacement& placement,
                            const IsolationBackend& containers, const IsolationBackend& vms) {
  LoadedTask task;
  auto text = readFile(path);
  if (!text) return std::move(text).error().context("cannot read the task definition");
  task.text = std::move(text).value();
  TANDEM_ASSIGN_OR_RETURN(task.definition, scheduler::parseTaskDefinition(task.text, path));
  TANDEM_ASSIGN_OR_RETURN(task.choice,
                          chooseTaskLevel(task.definition, placement, containers, vms));
  return task;
}

Result<scheduler::TaskPlan> planTask(const std::string& stateRoot, const TaskDefinition& definition,
                                     const std::string& definitionText,
                                     const scheduler::IsolationChoice& choice) {
  Isolation level = choice.level;
  std::string reason = scheduler::describe(choice);
  scheduler::TaskPlan plan;
  plan.stateRoot = stateRoot;
  plan.definition = definition;
  TANDEM_ASSIGN_OR_RETURN(std::string taskId, newWorkloadId());
  plan.record.id = taskId;
  plan.record.family = definition.family;
  plan.record.isolation = level;
  plan.record.reason = reason;
  plan.record.definition = definitionText;
  for (const ContainerDefinition& container : definition.containers) {
    plan.record.containers.push_back({container.name, "", scheduler::HealthStatus::kNone});
    TANDEM_ASSIGN_OR_RETURN(Workload workload,
                            containerWorkload(stateRoot, taskId, definition, container, level));
    plan.containers.push_back(std::move(workload));
  }
  TANDEM_ASSIGN_OR_RETURN(plan.sandbox.id, newWorkloadId());
  plan.sandbox.name = definition.family + "-" + taskId.substr(0, 8);
  plan.sandbox.isolation = level;
  TANDEM_ASSIGN_OR_RETURN(plan.sandbox.rootfs, sandboxRootfs(stateRoot));
  // A microVM's root is its own copy, in an initramfs, where the images' mount points are made.
  plan.sandbox.readOnlyRootfs = level == Isolation::kContainer;
  plan.sandbox.command = {"/pause"};
  plan.sandbox.hostname = plan.sandbox.name;
  plan.sandbox.network = definition.network;
  plan.sandbox.ports = publishedPorts(definition);
  plan.reservations = reservations(definition);
  if (level == Isolation::kVm) TANDEM_TRY(makeTaskVm(definition, plan.containers, plan));
  plan.capacity = scheduler::hostCapacity();
  TANDEM_ASSIGN_OR_RETURN(std::string self, ownExecutablePath());
  plan.execCommand = {self, "--state-root", stateRoot, "exec"};
  return plan;
}

}  // namespace tandem::cli

// The one description of a workload that the scheduler hands to an isolation backend.
// Both backends read it; neither adds fields for itself here.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/port_mapping.h"
#include "common/result.h"
#include "common/volume.h"

namespace tandem {

enum class Isolation { kAuto, kContainer, kVm };
// none: loopback only; host: the host's own network; bridge: an address on tandem's bridge
// (bridge_network.h); container: another running container's network namespace, as a pod's
// containers share one.
enum class NetworkMode { kNone, kHost, kBridge, kContainer };

// With NetworkMode::kContainer, the container whose network namespace is joined: its id, and its
// first process by pid and start time (common/process_identity.h), resolved from the store.
struct NetworkPeer {
  std::string id;
  pid_t pid = 0;
  std::uint64_t startTime = 0;
};

struct IdMapping {
  std::uint32_t containerId = 0;
  std::uint32_t hostId = 0;
  std::uint32_t count = 0;
};

struct Rlimit {
  int resource = 0;
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
};

// The least --storage-opt size: ext4's journal and metadata need a few MiB before a workload
// writes anything.
inline constexpr std::uint64_t kMinStorageBytes = std::uint64_t{16} << 20;

struct ResourceLimits {
  std::optional<std::uint64_t> memoryBytes;
  // Memory plus swap, as docker's --memory-swap: unset means "same as memory" (no swap), -1
  // unlimited swap.
  std::optional<std::int64_t> memorySwapBytes;
  // CPU quota in thousandths of a CPU (1.5 CPUs = 1500).
  std::optional<std::uint64_t> cpuMilli;
  // cgroup v1 shares scale (2..262144); converted for v2's weight.
  std::optional<std::uint64_t> cpuShares;
  std::optional<std::int64_t> pidsLimit;
  // The size a container's writable layer may grow to (--storage-opt size=); a microVM's is its
  // root disk's size. Unset: as much as the host's filesystem holds.
  std::optional<std::uint64_t> storageBytes;
  std::optional<std::string> cpusetCpus;
  std::optional<std::string> cpusetMems;
};

struct User {
  // Unset means "take it from the image": root, or the name given resolved in the rootfs.
  std::optional<std::string> spec;  // "UID[:GID]" or "NAME[:GROUP]" as given
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additionalGids;
};

struct Workload {
  std::string id;
  std::string name;
  Isolation isolation = Isolation::kAuto;
  std::vector<std::string> command;
  std::vector<std::string> env;  // "KEY=VALUE"
  std::string workdir = "/";
  std::string hostname;
  User user;
  std::string rootfs;
  // An image's unpacked layer folders, base first, for a container to stack under its own
  // writable layer; when set, `rootfs` is unused.
  std::vector<std::string> rootfsLayers;
  // An image's ext4 disk, for a microVM to boot from as a read-only base under its own writable
  // layer; when set, `rootfs` is unused.
  std::string rootfsDisk;
  bool readOnlyRootfs = false;
  NetworkMode network = NetworkMode::kNone;
  std::optional<NetworkPeer> networkPeer;  // with NetworkMode::kContainer
  // Host ports relayed to the workload's address on the bridge network (-p).
  std::vector<PortMapping> ports;
  // Host storage shown inside the workload (-v), mounted in this order.
  std::vector<Volume> volumes;
  bool tty = false;
  bool init = false;
  bool removeOnExit = false;
  ResourceLimits limits;
  std::vector<Rlimit> rlimits;
  std::vector<IdMapping> uidMappings;  // empty: no user namespace
  std::vector<IdMapping> gidMappings;
  std::vector<std::string> capAdd;
  std::vector<std::string> capDrop;
  bool seccomp = true;
};

const char* toString(Isolation isolation);
const char* toString(NetworkMode mode);
Result<Isolation> parseIsolation(const std::string& text);
Result<NetworkMode> parseNetworkMode(const std::string& text);

// "CONTAINER:HOST:COUNT", as in --uidmap.
Result<IdMapping> parseIdMapping(const std::string& text);

// The name --ulimit uses for an RLIMIT_* resource ("nofile"), or its number if it has none.
std::string rlimitName(int resource);

// "nofile=1024:2048" or "nofile=1024", as docker's --ulimit.
Result<Rlimit> parseRlimit(const std::string& text);

// Checks what can be checked without touching the system: a command, valid env entries,
// an absolute workdir, a hostname the kernel accepts, consistent limits and mappings.
Status validate(const Workload& workload);

// A fresh 64-hex-digit id, as docker's, from the kernel's random source.
Result<std::string> newWorkloadId();

nlohmann::json toJson(const Workload& workload);
Result<Workload> workloadFromJson(const nlohmann::json& json);

// The workload an isolation backend recorded in `directory`/config.json when it started it.
Result<Workload> readWorkloadConfig(const std::string& directory);

}  // namespace tandem

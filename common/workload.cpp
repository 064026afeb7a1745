#include "common/workload.h"

#include "common/file.h"

#include <sys/random.h>
#include <sys/resource.h>

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace tandem {

namespace {

struct RlimitName {
  const char* name;
  int resource;
};

constexpr std::array<RlimitName, 16> kRlimitNames{{
    {"as", RLIMIT_AS},
    {"core", RLIMIT_CORE},
    {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},
    {"fsize", RLIMIT_FSIZE},
    {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK},
    {"msgqueue", RLIMIT_MSGQUEUE},
    {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},
    {"nproc", RLIMIT_NPROC},
    {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},
    {"rttime", RLIMIT_RTTIME},
    {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
}};

template <class Int>
bool parseInt(std::string_view text, Int& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

}  // namespace

std::string rlimitName(int resource) {
  for (const auto& entry : kRlimitNames) {
    if (entry.resource == resource) {
      return entry.name;
    }
  }
  return std::to_string(resource);
}

const char* toString(Isolation isolation) {
  switch (isolation) {
    case Isolation::kAuto:
      return "auto";
    case Isolation::kContainer:
      return "container";
    case Isolation::kVm:
      return "vm";
  }
  return "unknown";
}

const char* toString(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::kNone:
      return "none";
    case NetworkMode::kHost:
      return "host";
    case NetworkMode::kContainer:
      return "container";
    case NetworkMode::kBridge:
      return "bridge";
  }
  return "unknown";
}

Result<Isolation> parseIsolation(const std::string& text) {
  if (text == "auto") return Isolation::kAuto;
  if (text == "container") return Isolation::kContainer;
  if (text == "vm" || text == "microvm") return Isolation::kVm;
  return Error("unknown isolation \"" + text + "\"; use container, vm or auto");
}

Result<NetworkMode> parseNetworkMode(const std::string& text) {
  if (text == "none") return NetworkMode::kNone;
  if (text == "host") return NetworkMode::kHost;
  if (text == "bridge") return NetworkMode::kBridge;
  if (text == "container") return NetworkMode::kContainer;
  return Error("unknown network mode \"" + text + "\"; use none, host, bridge or container:NAME");
}

Result<IdMapping> parseIdMapping(const std::string& text) {
  auto first = text.find(':');
  auto second = first == std::string::npos ? first : text.find(':', first + 1);
  IdMapping mapping;
  if (second == std::string::npos ||
      !parseInt(std::string_view(text).substr(0, first), mapping.containerId) ||
      !parseInt(std::string_view(text).substr(first + 1, second - first - 1), mapping.hostId) ||
      !parseInt(std::string_view(text).substr(second + 1), mapping.count) || mapping.count == 0) {
    return Error("invalid id mapping \"" + text +
                 "\": expected CONTAINER_ID:HOST_ID:COUNT with COUNT > 0, e.g. 0:100000:65536");
  }
  return mapping;
}

Result<Rlimit> parseRlimit(const std::string& text) {
  auto eq = text.find('=');
  auto usage = [&] {
    return Error("invalid ulimit \"" + text +
                 "\": expected NAME=SOFT[:HARD], e.g. nofile=1024:2048");
  };
  if (eq == std::string::npos) {
    return usage();
  }
  std::string name = text.substr(0, eq);
  Rlimit limit;
  bool found = false;
  for (const auto& entry : kRlimitNames) {
    if (name == entry.name) {
      limit.resource = entry.resource;
      found = true;
    }
  }
  if (!found) {
    return Error("unknown ulimit \"" + name + "\" in \"" + text + "\"");
  }
  std::string_view values = std::string_view(text).substr(eq + 1);
  auto colon = values.find(':');
  auto parseValue = [](std::string_view v, std::uint64_t& out) {
    if (v == "unlimited" || v == "-1") {
      out = RLIM_INFINITY;
      return true;
    }
    return parseInt(v, out);
  };
  if (!parseValue(values.substr(0, colon), limit.soft)) {
    return usage();
  }
  limit.hard = limit.soft;
  if (colon != std::string_view::npos && !parseValue(values.substr(colon + 1), limit.hard)) {
    return usage();
  }
  if (limit.soft > limit.hard) {
    return Error("invalid ulimit \"" + text + "\": the soft limit exceeds the hard limit");
  }
  return limit;
}

Status validate(const Workload& workload) {
  if (workload.command.empty() || workload.command.front().empty()) {
    return Error("no command given; put it after --, e.g. tandem run ... -- /bin/sh");
  }
  for (const auto& entry : workload.env) {
    auto eq = entry.find('=');
    if (eq == 0 || eq == std::string::npos) {
      return Error("invalid environment entry \"" + entry + "\": expected KEY=VALUE");
    }
  }
  if (!workload.ports.empty() && workload.network != NetworkMode::kBridge) {
    return Error(
        "published ports (-p) lead to the workload's address on the bridge network; "
        "add --network bridge");
  }
  if ((workload.network == NetworkMode::kContainer) != workload.networkPeer.has_value()) {
    return Error("--network container:NAME names the container whose network to join");
  }
  if (workload.network == NetworkMode::kContainer && !workload.uidMappings.empty()) {
    return Error(
        "--network container:NAME cannot be joined from a user namespace (--uidmap): the "
        "network namespace belongs to the host's");
  }
  for (std::size_t i = 0; i < workload.volumes.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (workload.volumes[i].target == workload.volumes[j].target) {
        return Error("two volumes (-v) are mounted on " + workload.volumes[i].target +
                     "; give each its own path");
      }
    }
  }
  if (workload.workdir.empty() || workload.workdir.front() != '/') {
    return Error("invalid working directory \"" + workload.workdir + "\": it must be absolute");
  }
  if (workload.hostname.size() > 64) {
    return Error("hostname \"" + workload.hostname + "\" is longer than 64 characters");
  }
  const auto& limits = workload.limits;
  if (limits.memoryBytes && *limits.memoryBytes < (6u << 20)) {
    return Error("memory limit " + std::to_string(*limits.memoryBytes) +
                 " bytes is below the minimum of 6 MiB");
  }
  if (limits.memorySwapBytes && *limits.memorySwapBytes != -1) {
    if (*limits.memorySwapBytes < 0) {
      return Error("--memory-swap must be a size, or -1 for unlimited swap");
    }
    if (!limits.memoryBytes) {
      return Error("--memory-swap needs --memory as well");
    }
    if (static_cast<std::uint64_t>(*limits.memorySwapBytes) < *limits.memoryBytes) {
      return Error("--memory-swap must be at least --memory (it counts memory plus swap)");
    }
  }
  if (limits.cpuMilli && *limits.cpuMilli < 10) {
    return Error("CPU limit must be at least 0.01 CPUs");
  }
  if (limits.cpuShares && (*limits.cpuShares < 2 || *limits.cpuShares > 262144)) {
    return Error("CPU shares must be between 2 and 262144");
  }
  if (limits.pidsLimit && (*limits.pidsLimit == 0 || *limits.pidsLimit < -1)) {
    return Error("pids limit must be positive, or -1 for unlimited");
  }
  if (limits.storageBytes && *limits.storageBytes < kMinStorageBytes) {
    return Error(
        "--storage-opt size must be at least 16M: the writable layer's filesystem needs "
        "a few MiB of its own");
  }
  if (workload.uidMappings.empty() != workload.gidMappings.empty()) {
    return Error("a user namespace needs both --uidmap and --gidmap");
  }
  for (const auto& limit : workload.rlimits) {
    if (limit.soft > limit.hard) {
      return Error("ulimit " + rlimitName(limit.resource) + ": soft limit exceeds hard limit");
    }
  }
  return okStatus();
}

Result<std::string> newWorkloadId() {
  std::array<unsigned char, 32> bytes{};
  if (::getrandom(bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    return Error::fromErrno("cannot read random bytes for a workload id");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char byte : bytes) {
    id.push_back(kHex[byte >> 4]);
    id.push_back(kHex[byte & 0xf]);
  }
  return id;
}

namespace {

nlohmann::json mappingsToJson(const std::vector<IdMapping>& mappings) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& m : mappings) {
    out.push_back({{"containerID", m.containerId}, {"hostID", m.hostId}, {"size", m.count}});
  }
  return out;
}

template <class T>
void putOptional(nlohmann::json& out, const char* key, const std::optional<T>& value) {
  if (value) {
    out[key] = *value;
  }
}

// nlohmann's get<> casts any number to any arithmetic type: -1 would become uid 4294967295,
// and a host id of 2^32 would become 0, host root. Integers are range-checked here instead.
struct InvalidNumber : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class Int>
Int integerFrom(const nlohmann::json& value, const char* key) {
  if (value.is_number_unsigned() && std::in_range<Int>(value.get<std::uint64_t>())) {
    return static_cast<Int>(value.get<std::uint64_t>());
  }
  if (value.is_number_integer() && !value.is_number_unsigned() &&
      std::in_range<Int>(value.get<std::int64_t>())) {
    return static_cast<Int>(value.get<std::int64_t>());
  }
  throw InvalidNumber(std::string("\"") + key + "\" is not an integer in range: " + value.dump());
}

template <class T>
void getOptional(const nlohmann::json& in, const char* key, std::optional<T>& value) {
  if (in.contains(key)) {
    if constexpr (std::is_integral_v<T>) {
      value = integerFrom<T>(in.at(key), key);
    } else {
      value = in.at(key).get<T>();
    }
  }
}

}  // namespace

namespace {

template <class Item>
std::vector<std::string> texts(const std::vector<Item>& items) {
  std::vector<std::string> out;
  for (const Item& item : items) out.push_back(item.text());
  return out;
}

}  // namespace

nlohmann::json toJson(const Workload& w) {
  nlohmann::json limits = nlohmann::json::object();
  putOptional(limits, "memory", w.limits.memoryBytes);
  putOptional(limits, "memorySwap", w.limits.memorySwapBytes);
  putOptional(limits, "cpuMilli", w.limits.cpuMilli);
  putOptional(limits, "cpuShares", w.limits.cpuShares);
  putOptional(limits, "pids", w.limits.pidsLimit);
  putOptional(limits, "storage", w.limits.storageBytes);
  putOptional(limits, "cpusetCpus", w.limits.cpusetCpus);
  putOptional(limits, "cpusetMems", w.limits.cpusetMems);
  nlohmann::json rlimits = nlohmann::json::array();
  for (const auto& r : w.rlimits) {
    rlimits.push_back({{"type", rlimitName(r.resource)}, {"soft", r.soft}, {"hard", r.hard}});
  }
  nlohmann::json user = {
      {"uid", w.user.uid}, {"gid", w.user.gid}, {"additionalGids", w.user.additionalGids}};
  putOptional(user, "spec", w.user.spec);
  return {
      {"id", w.id},
      {"name", w.name},
      {"isolation", toString(w.isolation)},
      {"command", w.command},
      {"env", w.env},
      {"workdir", w.workdir},
      {"hostname", w.hostname},
      {"user", user},
      {"rootfs", w.rootfs},
      {"rootfsLayers", w.rootfsLayers},
      {"rootfsDisk", w.rootfsDisk},
      {"readOnlyRootfs", w.readOnlyRootfs},
      {"network", toString(w.network)},
      {"networkPeer", w.networkPeer ? nlohmann::json{{"id", w.networkPeer->id},
                                                     {"pid", w.networkPeer->pid},
                                                     {"startTime", w.networkPeer->startTime}}
                                    : nlohmann::json()},
      {"ports", texts(w.ports)},
      {"volumes", texts(w.volumes)},
      {"tty", w.tty},
      {"init", w.init},
      {"removeOnExit", w.removeOnExit},
      {"limits", limits},
      {"rlimits", rlimits},
      {"uidMappings", mappingsToJson(w.uidMappings)},
      {"gidMappings", mappingsToJson(w.gidMappings)},
      {"capAdd", w.capAdd},
      {"capDrop", w.capDrop},
      {"seccomp", w.seccomp},
  };
}

Result<Workload> workloadFromJson(const nlohmann::json& json) {
  try {
    Workload w;
    w.id = json.value("id", "");
    w.name = json.value("name", "");
    TANDEM_ASSIGN_OR_RETURN(w.isolation, parseIsolation(json.value("isolation", "auto")));
    w.command = json.at("command").get<std::vector<std::string>>();
    w.env = json.value("env", std::vector<std::string>{});
    w.workdir = json.value("workdir", "/");
    w.hostname = json.value("hostname", "");
    if (json.contains("user")) {
      const auto& user = json.at("user");
      w.user.uid = integerFrom<uid_t>(user.value("uid", nlohmann::json(0)), "uid");
      w.user.gid = integerFrom<gid_t>(user.value("gid", nlohmann::json(0)), "gid");
      for (const auto& gid : user.value("additionalGids", nlohmann::json::array())) {
        w.user.additionalGids.push_back(integerFrom<gid_t>(gid, "additionalGids"));
      }
      getOptional(user, "spec", w.user.spec);
    }
    w.rootfs = json.value("rootfs", "");
    w.rootfsLayers = json.value("rootfsLayers", std::vector<std::string>{});
    w.rootfsDisk = json.value("rootfsDisk", "");
    w.readOnlyRootfs = json.value("readOnlyRootfs", false);
    TANDEM_ASSIGN_OR_RETURN(w.network, parseNetworkMode(json.value("network", "none")));
    if (json.contains("networkPeer") && json["networkPeer"].is_object()) {
      const auto& peer = json["networkPeer"];
      w.networkPeer = NetworkPeer{peer.at("id").get<std::string>(), peer.at("pid").get<pid_t>(),
                                  peer.at("startTime").get<std::uint64_t>()};
    }
    for (const auto& text : json.value("ports", std::vector<std::string>{})) {
      TANDEM_ASSIGN_OR_RETURN(PortMapping port, parsePortMapping(text));
      w.ports.push_back(port);
    }
    for (const auto& text : json.value("volumes", std::vector<std::string>{})) {
      TANDEM_ASSIGN_OR_RETURN(Volume volume, parseVolume(text));
      w.volumes.push_back(std::move(volume));
    }
    w.tty = json.value("tty", false);
    w.init = json.value("init", false);
    w.removeOnExit = json.value("removeOnExit", false);
    if (json.contains("limits")) {
      const auto& limits = json.at("limits");
      if (!limits.is_object()) {
        return Error("invalid workload description: \"limits\" is not an object");
      }
      getOptional(limits, "memory", w.limits.memoryBytes);
      getOptional(limits, "memorySwap", w.limits.memorySwapBytes);
      getOptional(limits, "cpuMilli", w.limits.cpuMilli);
      getOptional(limits, "cpuShares", w.limits.cpuShares);
      getOptional(limits, "pids", w.limits.pidsLimit);
      getOptional(limits, "storage", w.limits.storageBytes);
      getOptional(limits, "cpusetCpus", w.limits.cpusetCpus);
      getOptional(limits, "cpusetMems", w.limits.cpusetMems);
    }
    for (const auto& r : json.value("rlimits", nlohmann::json::array())) {
      std::string text = r.at("type").get<std::string>() + "=" +
                         std::to_string(integerFrom<std::uint64_t>(r.at("soft"), "soft")) + ":" +
                         std::to_string(integerFrom<std::uint64_t>(r.at("hard"), "hard"));
      TANDEM_ASSIGN_OR_RETURN(Rlimit limit, parseRlimit(text));
      w.rlimits.push_back(limit);
    }
    auto readMappings = [&](const char* key, std::vector<IdMapping>& out) {
      for (const auto& m : json.value(key, nlohmann::json::array())) {
        out.push_back({integerFrom<std::uint32_t>(m.at("containerID"), "containerID"),
                       integerFrom<std::uint32_t>(m.at("hostID"), "hostID"),
                       integerFrom<std::uint32_t>(m.at("size"), "size")});
      }
    };
    readMappings("uidMappings", w.uidMappings);
    readMappings("gidMappings", w.gidMappings);
    w.capAdd = json.value("capAdd", std::vector<std::string>{});
    w.capDrop = json.value("capDrop", std::vector<std::string>{});
    w.seccomp = json.value("seccomp", true);
    TANDEM_TRY(validate(w));
    return w;
  } catch (const nlohmann::json::exception& e) {
    return Error(std::string("invalid workload description: ") + e.what());
  } catch (const InvalidNumber& e) {
    return Error(std::string("invalid workload description: ") + e.what());
  }
}

}  // namespace tandem

namespace tandem {

Result<Workload> readWorkloadConfig(const std::string& directory) {
  std::string path = directory + "/config.json";
  TANDEM_ASSIGN_OR_RETURN(std::string text, readFile(path));
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return Error("the workload config " + path + " is not JSON", EINVAL);
  }
  return workloadFromJson(json).context(path);
}

}  // namespace tandem

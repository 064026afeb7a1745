#include "common/bridge_network.h"

#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <sstream>

#include "common/egress_nat.h"
#include "common/file.h"
#include "common/log.h"
#include "common/net_link.h"
#include "common/process_identity.h"
#include "common/rtnetlink.h"
#include "common/unique_fd.h"

namespace tandem {
namespace {

// Whether the lease file at `path` names a process that still runs: "PID STARTTIME", the
// holder's pid and start time (common/process_identity.h), so that neither a later process given
// its pid nor its unreaped zombie keeps the address.
bool leaseHolderAlive(const std::string& path) {
  auto text = readFile(path);
  if (!text) {
    return true;  // unreadable: leave it alone
  }
  std::istringstream fields(*text);
  pid_t pid = 0;
  std::uint64_t start = 0;
  if (!(fields >> pid >> start)) {
    return false;
  }
  return sameProcess(pid, start);
}

// The lease folder's lock, held while leases are taken or swept.
Result<UniqueFd> lockLeases(const BridgeNetwork& network) {
  std::string lockPath = network.leaseDirectory + "/.lock";
  UniqueFd lock(::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock || ::flock(lock.get(), LOCK_EX) != 0) {
    return Error::fromErrno("cannot lock " + lockPath);
  }
  return lock;
}

}  // namespace

BridgeNetwork defaultBridgeNetwork(const std::string& stateRoot) {
  BridgeNetwork network;
  network.leaseDirectory = stateRoot + "/network/" + network.bridge;
  return network;
}

Status ensureBridge(const BridgeNetwork& network) {
  if (::if_nametoindex(network.bridge.c_str()) == 0) {
    TANDEM_ASSIGN_OR_RETURN(RtNetlink netlink, RtNetlink::open());
    if (Status created = netlink.createBridge(network.bridge);
        !created && created.error().errnum() != EEXIST) {
      return created;
    }
  }
  // Set only when missing or different: setting it again would drop and re-add the subnet's
  // route under the workloads already on the bridge.
  TANDEM_ASSIGN_OR_RETURN(auto current, ipv4AddressOf(network.bridge));
  if (current != network.gateway) {
    TANDEM_TRY(setIpv4Address(network.bridge, network.gateway));
  }
  TANDEM_TRY(setLinkUp(network.bridge));
  // Without NAT the bridge still joins the host and its workloads; only egress is lost.
  if (Status nat = ensureEgressNat(network); !nat) {
    spdlog::warn("{}; workloads on {} reach the host and each other, nothing beyond",
                 nat.error().describe(), network.bridge);
  }
  return okStatus();
}

std::string hostLinkName(const std::string& workloadId) {
  return "tdm" + workloadId.substr(0, 12);
}

Result<AddressLease> AddressLease::acquire(const BridgeNetwork& network) {
  std::error_code error;
  std::filesystem::create_directories(network.leaseDirectory, error);
  if (error) {
    return Error(
        "cannot create the address lease folder " + network.leaseDirectory + ": " + error.message(),
        error.value());
  }
  TANDEM_ASSIGN_OR_RETURN(UniqueFd lock, lockLeases(network));
  std::uint32_t mask = network.gateway.netmask();
  std::uint32_t subnet = network.gateway.address.value & mask;
  std::uint32_t broadcast = subnet | ~mask;
  for (std::uint32_t value = subnet + 1; value < broadcast; ++value) {
    if (value == network.gateway.address.value) continue;
    Ipv4Address address{value};
    std::string path = network.leaseDirectory + "/" + address.text();
    UniqueFd file(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!file && errno == EEXIST && !leaseHolderAlive(path)) {
      spdlog::debug("taking back the lease of {}: its process is gone", address.text());
      ::unlink(path.c_str());
      file.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    }
    if (!file) {
      if (errno == EEXIST) continue;
      return Error::fromErrno("cannot write the address lease " + path);
    }
    std::string holder = std::to_string(::getpid()) + " " +
                         std::to_string(processStartTime(::getpid()).value_or(0)) + "\n";
    if (::write(file.get(), holder.data(), holder.size()) != static_cast<ssize_t>(holder.size())) {
      int saved = errno;
      ::unlink(path.c_str());
      return Error::fromErrno("cannot write the address lease " + path, saved);
    }
    return AddressLease(Ipv4Interface{address, network.gateway.prefix}, path);
  }
  return Error("every address of the bridge network " + network.gateway.text() +
                   " is leased; stop some workloads, or remove stale leases from " +
                   network.leaseDirectory,
               ENOSPC);
}

AddressLease::AddressLease(AddressLease&& other) noexcept
    : address_(other.address_), path_(std::exchange(other.path_, std::string())) {}

AddressLease::~AddressLease() {
  if (!path_.empty()) {
    ::unlink(path_.c_str());
  }
}

Result<std::size_t> reclaimStaleLeases(const BridgeNetwork& network) {
  std::error_code error;
  if (!std::filesystem::is_directory(network.leaseDirectory, error)) {
    return std::size_t{0};
  }
  TANDEM_ASSIGN_OR_RETURN(UniqueFd lock, lockLeases(network));
  std::size_t reclaimed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(network.leaseDirectory, error)) {
    std::string name = entry.path().filename();
    if (name.starts_with('.') || leaseHolderAlive(entry.path())) {
      continue;
    }
    if (::unlink(entry.path().c_str()) != 0 && errno != ENOENT) {
      return Error::fromErrno("cannot remove the stale address lease " + entry.path().string());
    }
    ++reclaimed;
  }
  if (error) {
    return Error(
        "cannot list the address leases in " + network.leaseDirectory + ": " + error.message(),
        error.value());
  }
  return reclaimed;
}

}  // namespace tandem

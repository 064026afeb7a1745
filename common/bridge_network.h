// tandem's bridge network, shared by both isolation levels: one Linux bridge on the host that
// holds the gateway address, containers joined to it by veth pairs and microVMs by TAP devices,
// each workload with an address leased from the bridge's subnet. Leases are files under the
// state root, one per address, naming the tandem process that holds it; a lease whose process
// is gone is taken back.
#pragma once

#include <cstddef>
#include <string>

#include "common/ipv4.h"
#include "common/result.h"

namespace tandem {

struct BridgeNetwork {
  std::string bridge = "tandem0";
  // The bridge's own address, the workloads' gateway; its prefix is the subnet's.
  Ipv4Interface gateway = {Ipv4Address{0x0a590001}, 16};  // 10.89.0.1/16
  // Where the leases live: <state root>/network/<bridge>.
  std::string leaseDirectory;
};

BridgeNetwork defaultBridgeNetwork(const std::string& stateRoot);

// Creates the bridge when missing, gives it the gateway address, brings it up and sets up NAT
// for egress (egress_nat.h).
Status ensureBridge(const BridgeNetwork& network);

// The host-side name of a workload's link (veth end or TAP): "tdm" and the id's first 12
// characters, within the kernel's 15.
std::string hostLinkName(const std::string& workloadId);

// Removes every lease whose process is gone (a monitor that was killed never released its
// own), and returns how many; acquire takes such a lease back too, but only when it reaches its
// address. Nothing to do when no workload ever used the network.
Result<std::size_t> reclaimStaleLeases(const BridgeNetwork& network);

// One address of the subnet, held until destroyed.
class AddressLease {
 public:
  // The lowest free address above the gateway, held for this process.
  static Result<AddressLease> acquire(const BridgeNetwork& network);

  AddressLease(AddressLease&& other) noexcept;
  AddressLease& operator=(AddressLease&&) = delete;
  AddressLease(const AddressLease&) = delete;
  ~AddressLease();

  // The address with the subnet's prefix.
  const Ipv4Interface& address() const { return address_; }

 private:
  AddressLease(Ipv4Interface address, std::string path)
      : address_(address), path_(std::move(path)) {}

  Ipv4Interface address_;
  std::string path_;
};

}  // namespace tandem

// NAT for egress from the bridge network: workloads reach past the host with the host's address
// as their source (masquerade), as docker's and podman's bridges do. The rules live in an
// nftables table of tandem's own, `ip tandem`, replaced whole in one transaction, so that
// applying them again is harmless and no other table is touched.
#pragma once

#include <string>

#include "common/bridge_network.h"
#include "common/result.h"

namespace tandem {

inline constexpr const char* kNatTable = "tandem";

// The nft script: the table's nat chain masquerades what leaves the subnet through any link but
// the bridge.
std::string egressNatRuleset(const BridgeNetwork& network);

// Turns IPv4 forwarding on and applies the ruleset with nft (Debian's nftables package); the
// script is kept beside the leases, for whoever wants to see what was applied.
Status ensureEgressNat(const BridgeNetwork& network);

}  // namespace tandem

// A container's place on tandem's bridge network: a veth pair whose host end joins the bridge
// and whose other end is the container's eth0, with its leased address and a default route
// through the bridge. The pair disappears with the container's network namespace.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/bridge_network.h"
#include "common/result.h"

namespace tandem::container {

// `pid` is the container's first process, already in its own network namespace.
Status joinBridge(pid_t pid, const std::string& hostLink, const Ipv4Interface& address,
                  const BridgeNetwork& network);

}  // namespace tandem::container

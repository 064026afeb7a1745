// The little IPv4 link setup tandem does itself, through the kernel's interface ioctls: a fresh
// network namespace's loopback, a microVM's TAP device on the host, and the guest's eth0.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/ipv4.h"
#include "common/result.h"

namespace tandem {

// Whether the kernel takes `name` for a network interface: 1 to 15 characters, none of them
// '/', ':' or blank, and neither "." nor "..".
Status checkInterfaceName(std::string_view name);

// A new network namespace has only "lo", and it starts down.
Status bringLoopbackUp();

Status setLinkUp(const std::string& interface);
// Gives `interface` its (one) IPv4 address and the subnet's route.
Status setIpv4Address(const std::string& interface, const Ipv4Interface& address);
// The interface's (primary) IPv4 address and prefix; none when it has no address.
Result<std::optional<Ipv4Interface>> ipv4AddressOf(const std::string& interface);
// Sends everything without a more specific route through `gateway`.
Status addIpv4DefaultRoute(Ipv4Address gateway);

}  // namespace tandem

// IPv4 addresses and subnets as tandem's networking writes them ("10.88.0.2", "10.88.0.2/16"):
// parsing that refuses anything ambiguous (leading zeroes, octets over 255, prefixes over 32),
// and formatting back. Free of system calls; the guest's init uses it too.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tandem {

struct Ipv4Address {
  std::uint32_t value = 0;  // host byte order: 10.0.0.1 is 0x0a000001

  std::string text() const;
  bool operator==(const Ipv4Address&) const = default;
};

// An interface's address and the prefix length of its subnet.
struct Ipv4Interface {
  Ipv4Address address;
  unsigned prefix = 32;

  std::uint32_t netmask() const { return prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix); }
  std::string text() const;  // "10.88.0.2/16"
  bool operator==(const Ipv4Interface&) const = default;
};

std::optional<Ipv4Address> parseIpv4(std::string_view text);
// The socket address of `address` and `port`, in network byte order as the kernel takes it.
sockaddr_in socketAddress(Ipv4Address address, std::uint16_t port = 0);
// "ADDRESS/PREFIX"; a bare address is a /32.
std::optional<Ipv4Interface> parseIpv4Interface(std::string_view text);

}  // namespace tandem

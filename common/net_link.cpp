#include "common/net_link.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "common/unique_fd.h"

namespace tandem {
namespace {

Result<UniqueFd> configurationSocket(const std::string& purpose) {
  UniqueFd socket(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!socket) {
    return Error::fromErrno("cannot open a socket to " + purpose);
  }
  return socket;
}

Result<ifreq> interfaceRequest(const std::string& interface) {
  TANDEM_TRY(checkInterfaceName(interface));
  ifreq request{};
  std::memcpy(request.ifr_name, interface.data(), interface.size());
  return request;
}

Ipv4Address addressIn(const sockaddr& address) {
  sockaddr_in in{};
  std::memcpy(&in, &address, sizeof in);
  return Ipv4Address{ntohl(in.sin_addr.s_addr)};
}

sockaddr inetAddress(Ipv4Address address) {
  sockaddr_in in = socketAddress(address);
  sockaddr out{};
  std::memcpy(&out, &in, sizeof in);
  return out;
}

}  // namespace

Status checkInterfaceName(std::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == ".." ||
      name.find_first_of("/: \t\n") != std::string_view::npos) {
    return Error("\"" + std::string(name) + "\" is not a network interface name (1 to " +
                     std::to_string(IFNAMSIZ - 1) + " characters, no /, : or blanks)",
                 EINVAL);
  }
  return okStatus();
}

Status bringLoopbackUp() {
  return setLinkUp("lo");
}

Status setLinkUp(const std::string& interface) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd socket, configurationSocket("bring " + interface + " up"));
  TANDEM_ASSIGN_OR_RETURN(ifreq request, interfaceRequest(interface));
  if (::ioctl(socket.get(), SIOCGIFFLAGS, &request) != 0) {
    return Error::fromErrno("cannot read the flags of the network interface " + interface);
  }
  if (request.ifr_flags & IFF_UP) {
    return okStatus();
  }
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(socket.get(), SIOCSIFFLAGS, &request) != 0) {
    return Error::fromErrno("cannot bring the network interface " + interface + " up");
  }
  return okStatus();
}

Status setIpv4Address(const std::string& interface, const Ipv4Interface& address) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd socket,
                          configurationSocket("give " + interface + " an address"));
  TANDEM_ASSIGN_OR_RETURN(ifreq request, interfaceRequest(interface));
  request.ifr_addr = inetAddress(address.address);
  if (::ioctl(socket.get(), SIOCSIFADDR, &request) != 0) {
    return Error::fromErrno("cannot give the network interface " + interface + " the address " +
                            address.address.text());
  }
  request.ifr_netmask = inetAddress(Ipv4Address{address.netmask()});
  if (::ioctl(socket.get(), SIOCSIFNETMASK, &request) != 0) {
    return Error::fromErrno("cannot set the subnet of the network interface " + interface + " to " +
                            address.text());
  }
  return okStatus();
}

Result<std::optional<Ipv4Interface>> ipv4AddressOf(const std::string& interface) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd socket, configurationSocket("read the address of " + interface));
  TANDEM_ASSIGN_OR_RETURN(ifreq request, interfaceRequest(interface));
  if (::ioctl(socket.get(), SIOCGIFADDR, &request) != 0) {
    if (errno == EADDRNOTAVAIL) {
      return std::optional<Ipv4Interface>();
    }
    return Error::fromErrno("cannot read the address of the network interface " + interface);
  }
  Ipv4Address address = addressIn(request.ifr_addr);
  if (::ioctl(socket.get(), SIOCGIFNETMASK, &request) != 0) {
    return Error::fromErrno("cannot read the subnet of the network interface " + interface);
  }
  auto prefix = static_cast<unsigned>(__builtin_popcount(addressIn(request.ifr_netmask).value));
  return std::optional<Ipv4Interface>(Ipv4Interface{address, prefix});
}

Status addIpv4DefaultRoute(Ipv4Address gateway) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd socket, configurationSocket("add a default route"));
  rtentry route{};
  route.rt_dst = inetAddress(Ipv4Address{0});
  route.rt_genmask = inetAddress(Ipv4Address{0});
  route.rt_gateway = inetAddress(gateway);
  route.rt_flags = RTF_UP | RTF_GATEWAY;
  if (::ioctl(socket.get(), SIOCADDRT, &route) != 0) {
    return Error::fromErrno("cannot add a default route through " + gateway.text() +
                            "; is that address on one of the interface's subnets?");
  }
  return okStatus();
}

}  // namespace tandem

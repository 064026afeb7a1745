// What tandem's init reads from the kernel command line. With an initramfs, the kernel leaves
// root= to init, as it does for any initramfs; tandem's VMM names the image's disk there when a
// microVM boots from one. Free of system calls, so it is tested on the host.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ipv4.h"
#include "common/result.h"

namespace tandem::guest_init {

struct RootDevice {
  std::string device;
  std::string type = "ext4";
  bool readOnly = false;
};

// root=, rootfstype= and the last of ro/rw; none without a root= naming a /dev path.
std::optional<RootDevice> rootDeviceFrom(std::string_view cmdline);

// An interface the VMM asks init to configure: `tandem.net=eth0,10.0.2.2/24[,GATEWAY]`.
struct GuestNetwork {
  std::string interface;
  Ipv4Interface address;
  std::optional<Ipv4Address> gateway;
};

// Every well-formed tandem.net= option, in order; a malformed one is an error naming it.
Result<std::vector<GuestNetwork>> networksFrom(std::string_view cmdline);

}  // namespace tandem::guest_init

// What tandem's init reads from the kernel command line. With an initramfs, the kernel leaves
// root= to init, as it does for any initramfs; tandem's VMM names the image's disk there when a
// microVM boots from one. Free of system calls, so it is tested on the host.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tandem::guest_init {

struct RootDevice {
  std::string device;
  std::string type = "ext4";
  bool readOnly = false;
};

// root=, rootfstype= and the last of ro/rw; none without a root= naming a /dev path.
std::optional<RootDevice> rootDeviceFrom(std::string_view cmdline);

}  // namespace tandem::guest_init

#include "tools/guest-init/boot_options.h"

namespace tandem::guest_init {

std::optional<RootDevice> rootDeviceFrom(std::string_view cmdline) {
  RootDevice root;
  std::size_t at = 0;
  while (at < cmdline.size()) {
    std::size_t end = cmdline.find_first_of(" \t\n", at);
    if (end == std::string_view::npos) end = cmdline.size();
    std::string_view word = cmdline.substr(at, end - at);
    at = end + 1;
    if (word.starts_with("root=")) {
      root.device = std::string(word.substr(5));
    } else if (word.starts_with("rootfstype=") && word.size() > 11) {
      root.type = std::string(word.substr(11));
    } else if (word == "ro") {
      root.readOnly = true;
    } else if (word == "rw") {
      root.readOnly = false;
    }
  }
  if (!root.device.starts_with("/dev/") || root.device.size() == 5) {
    return std::nullopt;
  }
  return root;
}

}  // namespace tandem::guest_init

#include "tools/guest-init/boot_options.h"

namespace tandem::guest_init {
namespace {

// The command line's words, split at blanks.
std::vector<std::string_view> wordsOf(std::string_view cmdline) {
  std::vector<std::string_view> words;
  std::size_t at = 0;
  while (at < cmdline.size()) {
    std::size_t end = cmdline.find_first_of(" \t\n", at);
    if (end == std::string_view::npos) end = cmdline.size();
    if (end > at) words.push_back(cmdline.substr(at, end - at));
    at = end + 1;
  }
  return words;
}

}  // namespace

std::optional<RootDevice> rootDeviceFrom(std::string_view cmdline) {
  RootDevice root;
  for (std::string_view word : wordsOf(cmdline)) {
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

Result<std::vector<GuestNetwork>> networksFrom(std::string_view cmdline) {
  constexpr std::string_view kOption = "tandem.net=";
  std::vector<GuestNetwork> networks;
  for (std::string_view word : wordsOf(cmdline)) {
    if (!word.starts_with(kOption)) continue;
    std::string_view value = word.substr(kOption.size());
    auto bad = [&] {
      return Error("the kernel command line's \"" + std::string(word) +
                       "\" is not tandem.net=INTERFACE,ADDRESS/PREFIX[,GATEWAY]",
                   EINVAL);
    };
    std::size_t first = value.find(',');
    if (first == 0 || first == std::string_view::npos) return bad();
    GuestNetwork network{std::string(value.substr(0, first)), {}, {}};
    std::string_view rest = value.substr(first + 1);
    std::size_t second = rest.find(',');
    auto address = parseIpv4Interface(rest.substr(0, second));
    if (!address) return bad();
    network.address = *address;
    if (second != std::string_view::npos) {
      network.gateway = parseIpv4(rest.substr(second + 1));
      if (!network.gateway) return bad();
    }
    networks.push_back(std::move(network));
  }
  return networks;
}

}  // namespace tandem::guest_init

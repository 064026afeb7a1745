#include "common/port_mapping.h"

#include <charconv>
#include <optional>

namespace tandem {
namespace {

std::optional<std::uint16_t> parsePort(std::string_view text, bool zeroAllowed) {
  unsigned value = 0;
  auto [end, problem] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (problem != std::errc() || end != text.data() + text.size() || value > 65535 ||
      (value == 0 && !zeroAllowed)) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::string PortMapping::text() const {
  std::string text = std::to_string(hostPort) + ":" + std::to_string(workloadPort);
  return hostAddress.value == 0 ? text : hostAddress.text() + ":" + text;
}

Result<PortMapping> parsePortMapping(std::string_view text) {
  auto bad = [&] {
    return Error("-p \"" + std::string(text) +
                     "\" is not a published port; use [ADDRESS:]HOSTPORT:PORT or PORT (TCP)",
                 EINVAL);
  };
  std::string_view spec = text;
  if (spec.ends_with("/tcp")) spec.remove_suffix(4);
  PortMapping mapping;
  std::size_t last = spec.rfind(':');
  auto port = parsePort(spec.substr(last == std::string_view::npos ? 0 : last + 1), false);
  if (!port) return bad();
  mapping.workloadPort = *port;
  if (last == std::string_view::npos) {
    mapping.hostPort = *port;
    return mapping;
  }
  std::string_view front = spec.substr(0, last);
  std::size_t colon = front.rfind(':');
  auto hostPort = parsePort(front.substr(colon == std::string_view::npos ? 0 : colon + 1), true);
  if (!hostPort) return bad();
  mapping.hostPort = *hostPort;
  if (colon != std::string_view::npos) {
    auto address = parseIpv4(front.substr(0, colon));
    if (!address) return bad();
    mapping.hostAddress = *address;
  }
  return mapping;
}

}  // namespace tandem

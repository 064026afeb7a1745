#include "vmm/nic_spec.h"

#include <fmt/format.h>

#include <vector>

#include "common/net_link.h"
#include "common/split.h"

namespace tandem::vmm {
namespace {

std::optional<std::uint8_t> hexByte(std::string_view text) {
  if (text.size() != 2) return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    value <<= 4;
    if (c >= '0' && c <= '9') {
      value |= static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      value |= static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      value |= static_cast<unsigned>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
  }
  return static_cast<std::uint8_t>(value);
}

}  // namespace

std::string macText(const virtio::MacAddress& mac) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3],
                     mac[4], mac[5]);
}

std::optional<virtio::MacAddress> parseMac(std::string_view text) {
  auto parts = splitFields(text, ':');
  if (parts.size() != 6) return std::nullopt;
  virtio::MacAddress mac{};
  for (std::size_t i = 0; i < 6; ++i) {
    auto byte = hexByte(parts[i]);
    if (!byte) return std::nullopt;
    mac[i] = *byte;
  }
  // A multicast address (the first octet's low bit) cannot be an interface's own.
  if (mac[0] & 1) return std::nullopt;
  return mac;
}

virtio::MacAddress NicSpec::macAddress() const {
  if (mac) return *mac;
  // FNV-1a of the TAP's name: distinct names on one bridge give distinct addresses. 02: locally
  // administered, unicast.
  std::uint32_t hash = 2166136261u;
  for (char c : tap) {
    hash = (hash ^ static_cast<std::uint8_t>(c)) * 16777619u;
  }
  return {0x02,
          0x74,
          static_cast<std::uint8_t>(hash >> 24),
          static_cast<std::uint8_t>(hash >> 16),
          static_cast<std::uint8_t>(hash >> 8),
          static_cast<std::uint8_t>(hash)};
}

std::string NicSpec::text() const {
  std::string text = tap;
  if (!bridge.empty()) text += ",bridge=" + bridge;
  if (mac) text += ",mac=" + macText(*mac);
  if (hostAddress) text += ",host=" + hostAddress->text();
  if (guestAddress) text += ",guest=" + guestAddress->text();
  if (gateway) text += ",gateway=" + gateway->text();
  return text;
}

std::string NicSpec::guestOption(std::size_t index) const {
  if (!guestAddress) return {};
  std::string option = "tandem.net=eth" + std::to_string(index) + "," + guestAddress->text();
  std::optional<Ipv4Address> route = gateway;
  if (!route && hostAddress) route = hostAddress->address;
  if (route) option += "," + route->text();
  return option;
}

Result<NicSpec> parseNicSpec(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error(
        "--tap \"" + std::string(text) + "\": " + why +
            "; use --tap TAP[,bridge=BRIDGE][,mac=MAC][,host=ADDRESS/PREFIX][,guest=ADDRESS/PREFIX]"
            "[,gateway=ADDRESS]",
        EINVAL);
  };
  auto parts = splitFields(text, ',');
  NicSpec nic;
  nic.tap = std::string(parts.front());
  if (Status name = checkInterfaceName(nic.tap); !name) {
    return bad(name.error().message());
  }
  for (std::size_t i = 1; i < parts.size(); ++i) {
    std::string_view part = parts[i];
    std::size_t equals = part.find('=');
    std::string_view key = part.substr(0, equals);
    std::string_view value = equals == std::string_view::npos ? "" : part.substr(equals + 1);
    if (key == "bridge") {
      if (Status name = checkInterfaceName(value); !name) {
        return bad(name.error().message());
      }
      nic.bridge = std::string(value);
    } else if (key == "mac") {
      nic.mac = parseMac(value);
      if (!nic.mac) return bad("\"" + std::string(value) + "\" is not a unicast MAC address");
    } else if (key == "host" || key == "guest") {
      auto address = parseIpv4Interface(value);
      if (!address) return bad("\"" + std::string(value) + "\" is not an IPv4 ADDRESS/PREFIX");
      (key == "host" ? nic.hostAddress : nic.guestAddress) = address;
    } else if (key == "gateway") {
      nic.gateway = parseIpv4(value);
      if (!nic.gateway) return bad("\"" + std::string(value) + "\" is not an IPv4 address");
    } else {
      return bad("unknown setting \"" + std::string(key) + "\"");
    }
  }
  return nic;
}

}  // namespace tandem::vmm

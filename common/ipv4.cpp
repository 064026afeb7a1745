#include "common/ipv4.h"

#include <arpa/inet.h>

namespace tandem {
namespace {

// A decimal number from 0 to `max` without a sign or leading zeroes.
std::optional<unsigned> parseSmall(std::string_view text, unsigned max) {
  if (text.empty() || text.size() > 3 || (text.size() > 1 && text[0] == '0')) {
    return std::nullopt;
  }
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > max) return std::nullopt;
  return value;
}

}  // namespace

std::string Ipv4Address::text() const {
  return std::to_string(value >> 24) + "." + std::to_string((value >> 16) & 0xff) + "." +
         std::to_string((value >> 8) & 0xff) + "." + std::to_string(value & 0xff);
}

std::string Ipv4Interface::text() const {
  return address.text() + "/" + std::to_string(prefix);
}

sockaddr_in socketAddress(Ipv4Address address, std::uint16_t port) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(address.value);
  in.sin_port = htons(port);
  return in;
}

std::optional<Ipv4Address> parseIpv4(std::string_view text) {
  std::uint32_t value = 0;
  for (int octet = 0; octet < 4; ++octet) {
    std::size_t dot = text.find('.');
    if ((octet < 3) != (dot != std::string_view::npos)) {
      return std::nullopt;
    }
    auto number = parseSmall(text.substr(0, dot), 255);
    if (!number) return std::nullopt;
    value = (value << 8) | *number;
    text = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  }
  return Ipv4Address{value};
}

std::optional<Ipv4Interface> parseIpv4Interface(std::string_view text) {
  std::size_t slash = text.find('/');
  auto address = parseIpv4(text.substr(0, slash));
  if (!address) return std::nullopt;
  if (slash == std::string_view::npos) {
    return Ipv4Interface{*address, 32};
  }
  auto prefix = parseSmall(text.substr(slash + 1), 32);
  if (!prefix) return std::nullopt;
  return Ipv4Interface{*address, *prefix};
}

}  // namespace tandem

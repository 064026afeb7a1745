// A microVM's network interface as `--tap` names it: the host TAP device its virtio-net device
// uses, and optionally the addresses on both ends of that link. The guest sees the interfaces
// as eth0, eth1, ... in the order given.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/ipv4.h"
#include "common/result.h"
#include "vmm/virtio/net.h"

namespace tandem::vmm {

// Each interface takes one of the IOAPIC's pins above the ISA lines.
inline constexpr std::size_t kMaxNics = 4;

struct NicSpec {
  // Opened when it exists (made beforehand, or by tandem's bridge setup), else created, and
  // then gone with the microVM.
  std::string tap;
  // A bridge the TAP joins (tandem's bridge network), or none.
  std::string bridge = {};
  // Default: derived from the TAP's name, locally administered.
  std::optional<virtio::MacAddress> mac = {};
  // Given to the TAP device on the host: a routed link, with no bridge.
  std::optional<Ipv4Interface> hostAddress = {};
  // Configured on the guest's interface by tandem's init, with a default route through
  // `gateway` (default: the host address, when both are set).
  std::optional<Ipv4Interface> guestAddress = {};
  std::optional<Ipv4Address> gateway = {};

  virtio::MacAddress macAddress() const;
  // "TAP[,bridge=BRIDGE][,mac=MAC][,host=CIDR][,guest=CIDR][,gateway=IP]", which parseNicSpec reads
  // back.
  std::string text() const;
  // The guest init's command-line option for interface ethN; empty without a guest address.
  std::string guestOption(std::size_t index) const;
};

Result<NicSpec> parseNicSpec(std::string_view text);

std::string macText(const virtio::MacAddress& mac);
std::optional<virtio::MacAddress> parseMac(std::string_view text);

}  // namespace tandem::vmm

// The few link operations of rtnetlink (rtnetlink(7)) that the interface ioctls lack: creating
// bridges and veth pairs, attaching a link to a bridge, moving it into another network
// namespace, and deleting it. Each request waits for the kernel's acknowledgement, so an error
// comes back with the operation that caused it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem {

// One RTM_*LINK request as bytes: the netlink header, an ifinfomsg and attributes, each padded
// to 4 bytes as the kernel expects. Separate from the socket, so it is tested without privilege.
class LinkRequest {
 public:
  LinkRequest(std::uint16_t type, std::uint16_t flags, int interfaceIndex = 0);

  LinkRequest& attribute(std::uint16_t type, std::span<const std::uint8_t> value);
  LinkRequest& attribute(std::uint16_t type, const std::string& text);  // NUL-terminated
  LinkRequest& attribute(std::uint16_t type, std::uint32_t value);
  // Attributes added until the matching end() nest inside this one.
  LinkRequest& begin(std::uint16_t type);
  LinkRequest& end();
  // An ifinfomsg inside the current nest (the veth peer's own header).
  LinkRequest& interfaceHeader();

  // The finished message with sequence number `sequence`.
  std::vector<std::uint8_t> bytes(std::uint32_t sequence) const;

 private:
  std::vector<std::uint8_t> bytes_;
  std::vector<std::size_t> open_;
};

class RtNetlink {
 public:
  static Result<RtNetlink> open();

  Status createBridge(const std::string& name);
  // A veth pair: `name` stays here, `peer` goes to the network namespace of `namespaceFd`
  // (an open /proc/PID/ns/net) at once, or stays here with -1.
  Status createVethPair(const std::string& name, const std::string& peer, int namespaceFd = -1);
  Status setMaster(const std::string& link, const std::string& bridge);
  Status deleteLink(const std::string& name);

  // Sends a request and waits for its acknowledgement; `what` names it in the error.
  Status execute(const LinkRequest& request, const std::string& what);

 private:
  explicit RtNetlink(UniqueFd socket) : socket_(std::move(socket)) {}

  UniqueFd socket_;
  std::uint32_t sequence_ = 1;
};

}  // namespace tandem

#include "common/rtnetlink.h"

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstring>

namespace tandem {
namespace {

constexpr std::size_t kAlign = 4;

std::size_t aligned(std::size_t bytes) {
  return (bytes + kAlign - 1) & ~(kAlign - 1);
}

void put(std::vector<std::uint8_t>& out, std::size_t at, const void* value, std::size_t size) {
  std::memcpy(out.data() + at, value, size);
}

Result<int> indexOf(const std::string& name) {
  unsigned index = ::if_nametoindex(name.c_str());
  if (index == 0) {
    return Error::fromErrno("there is no network interface " + name);
  }
  return static_cast<int>(index);
}

}  // namespace

LinkRequest::LinkRequest(std::uint16_t type, std::uint16_t flags, int interfaceIndex)
    : bytes_(sizeof(nlmsghdr) + sizeof(ifinfomsg), 0) {
  nlmsghdr header{};
  header.nlmsg_type = type;
  header.nlmsg_flags = static_cast<std::uint16_t>(flags | NLM_F_REQUEST | NLM_F_ACK);
  put(bytes_, 0, &header, sizeof header);
  ifinfomsg info{};
  info.ifi_family = AF_UNSPEC;
  info.ifi_index = interfaceIndex;
  put(bytes_, sizeof(nlmsghdr), &info, sizeof info);
}

LinkRequest& LinkRequest::attribute(std::uint16_t type, std::span<const std::uint8_t> value) {
  std::size_t at = bytes_.size();
  rtattr header{};
  header.rta_len = static_cast<unsigned short>(sizeof(rtattr) + value.size());
  header.rta_type = type;
  bytes_.resize(at + aligned(sizeof(rtattr) + value.size()), 0);
  put(bytes_, at, &header, sizeof header);
  if (!value.empty()) {
    put(bytes_, at + sizeof(rtattr), value.data(), value.size());
  }
  return *this;
}

LinkRequest& LinkRequest::attribute(std::uint16_t type, const std::string& text) {
  const auto* data = reinterpret_cast<const std::uint8_t*>(text.c_str());
  return attribute(type, std::span<const std::uint8_t>(data, text.size() + 1));
}

LinkRequest& LinkRequest::attribute(std::uint16_t type, std::uint32_t value) {
  std::uint8_t data[sizeof value];
  std::memcpy(data, &value, sizeof value);
  return attribute(type, std::span<const std::uint8_t>(data, sizeof data));
}

LinkRequest& LinkRequest::begin(std::uint16_t type) {
  open_.push_back(bytes_.size());
  return attribute(type, std::span<const std::uint8_t>());
}

LinkRequest& LinkRequest::end() {
  std::size_t at = open_.back();
  open_.pop_back();
  auto length = static_cast<unsigned short>(bytes_.size() - at);
  put(bytes_, at, &length, sizeof length);
  return *this;
}

LinkRequest& LinkRequest::interfaceHeader() {
  ifinfomsg info{};
  info.ifi_family = AF_UNSPEC;
  std::size_t at = bytes_.size();
  bytes_.resize(at + sizeof info, 0);
  put(bytes_, at, &info, sizeof info);
  return *this;
}

std::vector<std::uint8_t> LinkRequest::bytes(std::uint32_t sequence) const {
  std::vector<std::uint8_t> out = bytes_;
  auto length = static_cast<std::uint32_t>(out.size());
  put(out, offsetof(nlmsghdr, nlmsg_len), &length, sizeof length);
  put(out, offsetof(nlmsghdr, nlmsg_seq), &sequence, sizeof sequence);
  return out;
}

Result<RtNetlink> RtNetlink::open() {
  UniqueFd socket(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!socket) {
    return Error::fromErrno("cannot open a netlink socket to configure network links");
  }
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(socket.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    return Error::fromErrno("cannot bind a netlink socket");
  }
  return RtNetlink(std::move(socket));
}

Status RtNetlink::execute(const LinkRequest& request, const std::string& what) {
  std::uint32_t sequence = sequence_++;
  std::vector<std::uint8_t> message = request.bytes(sequence);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(socket_.get(), message.data(), message.size(), 0,
               reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    return Error::fromErrno("cannot send the netlink request to " + what);
  }
  alignas(nlmsghdr) std::uint8_t reply[8192];
  for (;;) {
    ssize_t got = ::recv(socket_.get(), reply, sizeof reply, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("no netlink answer to the request to " + what);
    }
    auto left = static_cast<std::size_t>(got);
    for (auto* header = reinterpret_cast<nlmsghdr*>(reply); NLMSG_OK(header, left);
         header = NLMSG_NEXT(header, left)) {
      if (header->nlmsg_seq != sequence || header->nlmsg_type != NLMSG_ERROR) {
        continue;
      }
      if (header->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
        return Error("a truncated netlink answer to the request to " + what, EPROTO);
      }
      const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(header));
      if (error->error != 0) {
        return Error("cannot " + what, -error->error);
      }
      return okStatus();
    }
  }
}

Status RtNetlink::createBridge(const std::string& name) {
  LinkRequest request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  request.attribute(IFLA_IFNAME, name).begin(IFLA_LINKINFO);
  request.attribute(IFLA_INFO_KIND, std::string("bridge")).end();
  return execute(
      request, "create the bridge " + name + " (is the bridge module available? modprobe bridge)");
}

Status RtNetlink::createVethPair(const std::string& name, const std::string& peer,
                                 int namespaceFd) {
  LinkRequest request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  request.attribute(IFLA_IFNAME, name).begin(IFLA_LINKINFO);
  request.attribute(IFLA_INFO_KIND, std::string("veth")).begin(IFLA_INFO_DATA);
  request.begin(VETH_INFO_PEER).interfaceHeader().attribute(IFLA_IFNAME, peer);
  if (namespaceFd >= 0) {
    request.attribute(IFLA_NET_NS_FD, static_cast<std::uint32_t>(namespaceFd));
  }
  request.end().end().end();
  return execute(request, "create the veth pair " + name + " and " + peer +
                              " (is the veth module available? modprobe veth)");
}

Status RtNetlink::setMaster(const std::string& link, const std::string& bridge) {
  TANDEM_ASSIGN_OR_RETURN(int linkIndex, indexOf(link));
  TANDEM_ASSIGN_OR_RETURN(int bridgeIndex, indexOf(bridge));
  LinkRequest request(RTM_NEWLINK, 0, linkIndex);
  request.attribute(IFLA_MASTER, static_cast<std::uint32_t>(bridgeIndex));
  return execute(request, "attach " + link + " to the bridge " + bridge);
}

Status RtNetlink::deleteLink(const std::string& name) {
  LinkRequest request(RTM_DELLINK, 0);
  request.attribute(IFLA_IFNAME, name);
  return execute(request, "delete the network interface " + name);
}

}  // namespace tandem

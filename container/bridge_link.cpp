#include "container/bridge_link.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <thread>

#include "common/net_link.h"
#include "common/rtnetlink.h"
#include "common/unique_fd.h"

namespace tandem::container {

Status joinBridge(pid_t pid, const std::string& hostLink, const Ipv4Interface& address,
                  const BridgeNetwork& network) {
  std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  UniqueFd namespaceFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!namespaceFd) {
    return Error::fromErrno("cannot open the container's network namespace " + path);
  }
  TANDEM_ASSIGN_OR_RETURN(RtNetlink netlink, RtNetlink::open());
  TANDEM_TRY(netlink.createVethPair(hostLink, "eth0", namespaceFd.get()));
  TANDEM_TRY(netlink.setMaster(hostLink, network.bridge));
  TANDEM_TRY(setLinkUp(hostLink));
  // Network namespaces are per thread: a thread of its own enters the container's and configures
  // eth0 there, leaving tandem's other threads where they are.
  Status inside;
  std::thread([&] {
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
    if (::setns(namespaceFd.get(), CLONE_NEWNET) != 0) {
      inside = Error::fromErrno("cannot enter the container's network namespace");
      return;
    }
    inside = [&]() -> Status {
      TANDEM_TRY(setIpv4Address("eth0", address));
      TANDEM_TRY(setLinkUp("eth0"));
      return addIpv4DefaultRoute(network.gateway.address);
    }();
  }).join();
  return std::move(inside).context("configuring the container's eth0");
}

}  // namespace tandem::container

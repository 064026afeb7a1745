// Published ports (`-p HOSTPORT:PORT`): tandem listens on the host's port and relays each TCP
// connection to the workload's address on its bridge, the same way for a container and a
// microVM, as docker-proxy does for docker. One thread serves every mapping of a workload with
// epoll; destroying the forwarder closes the listeners and every relayed connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/ipv4.h"
#include "common/port_mapping.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem {

class PortForwarder {
 public:
  // Binds every listener before returning, so that a port in use is an error here, not later.
  static Result<std::unique_ptr<PortForwarder>> start(const std::vector<PortMapping>& mappings,
                                                      Ipv4Address target);
  ~PortForwarder();

  // The host ports listened on, in the order of the mappings (a 0 resolved).
  const std::vector<std::uint16_t>& boundPorts() const { return boundPorts_; }

 private:
  PortForwarder() = default;
  void serve();

  struct Listener {
    UniqueFd socket;
    std::uint16_t workloadPort;
  };
  std::vector<Listener> listeners_;
  std::vector<std::uint16_t> boundPorts_;
  Ipv4Address target_;
  UniqueFd stop_;
  UniqueFd epoll_;
  std::thread thread_;
};

}  // namespace tandem

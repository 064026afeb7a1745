// A published port as `-p` writes it: which host address and port lead to which port of the
// workload. Free of system calls; the workload description carries these.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/ipv4.h"
#include "common/result.h"

namespace tandem {

struct PortMapping {
  std::uint16_t hostPort = 0;  // 0: the kernel picks one (see PortForwarder::boundPorts)
  std::uint16_t workloadPort = 0;
  Ipv4Address hostAddress = {};  // 0.0.0.0: every address of the host

  std::string text() const;  // "[ADDRESS:]HOSTPORT:PORT"
  bool operator==(const PortMapping&) const = default;
};

// "PORT" (the same port on both sides), "HOSTPORT:PORT" or "ADDRESS:HOSTPORT:PORT", with an
// optional "/tcp".
Result<PortMapping> parsePortMapping(std::string_view text);

}  // namespace tandem

#include "common/egress_nat.h"

#include "common/file.h"
#include "common/run_program.h"

namespace tandem {

std::string egressNatRuleset(const BridgeNetwork& network) {
  Ipv4Interface subnet{Ipv4Address{network.gateway.address.value & network.gateway.netmask()},
                       network.gateway.prefix};
  std::string table = std::string("ip ") + kNatTable;
  // "add" then "delete" empties the table whether or not it existed; nft applies the file as
  // one transaction, so no packet sees the table half-made.
  return "add table " + table + "\n" + "delete table " + table + "\n" + "table " + table +
         " {\n"
         "  chain postrouting {\n"
         "    type nat hook postrouting priority srcnat; policy accept;\n"
         "    ip saddr " +
         subnet.text() + " oifname != \"" + network.bridge + "\" masquerade\n" +
         "  }\n"
         "}\n";
}

Status ensureEgressNat(const BridgeNetwork& network) {
  TANDEM_TRY(writeExistingFile("/proc/sys/net/ipv4/ip_forward", "1")
                 .context("turning on IPv4 forwarding for the bridge's egress"));
  TANDEM_TRY(makeDirectories(network.leaseDirectory, 0700));
  std::string script = network.leaseDirectory + "/.egress.nft";
  TANDEM_TRY(writeFile(script, egressNatRuleset(network), 0600));
  return runProgram({"nft", "-f", script}, "nftables").context("NAT for the bridge's egress");
}

}  // namespace tandem

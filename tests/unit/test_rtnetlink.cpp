#include "common/rtnetlink.h"

#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "common/file.h"
#include "common/net_link.h"
#include "tests/unit/unit_test.h"

using namespace tandem;

namespace {

std::uint16_t u16At(const std::vector<std::uint8_t>& bytes, std::size_t at) {
  std::uint16_t value;
  std::memcpy(&value, bytes.data() + at, sizeof value);
  return value;
}
std::uint32_t u32At(const std::vector<std::uint8_t>& bytes, std::size_t at) {
  std::uint32_t value;
  std::memcpy(&value, bytes.data() + at, sizeof value);
  return value;
}

void a_request_is_laid_out_as_the_kernel_reads_it(void**) {
  LinkRequest request(RTM_NEWLINK, 0, 7);
  request.attribute(IFLA_IFNAME, std::string("br0")).begin(IFLA_LINKINFO);
  request.attribute(IFLA_INFO_KIND, std::string("bridge")).end();
  auto bytes = request.bytes(42);
  // Header (16), ifinfomsg (16), IFLA_IFNAME "br0\0" (8), IFLA_LINKINFO holding "bridge\0"
  // (4 + 12).
  assert_int_equal(bytes.size(), 16 + 16 + 8 + 16);
  assert_int_equal(u32At(bytes, 0), bytes.size());
  assert_int_equal(u16At(bytes, 4), RTM_NEWLINK);
  assert_int_equal(u16At(bytes, 6), NLM_F_REQUEST | NLM_F_ACK);
  assert_int_equal(u32At(bytes, 8), 42);
  assert_int_equal(u32At(bytes, 16 + 4), 7);  // ifi_index
  assert_int_equal(u16At(bytes, 32), 8);      // rta_len: 4 + "br0\0"
  assert_int_equal(u16At(bytes, 34), IFLA_IFNAME);
  assert_memory_equal(bytes.data() + 36, "br0", 4);
  assert_int_equal(u16At(bytes, 40), 4 + 4 + 8);  // the nest: its header and the padded kind
  assert_int_equal(u16At(bytes, 42), IFLA_LINKINFO);
  assert_int_equal(u16At(bytes, 44), 4 + 7);
  assert_int_equal(u16At(bytes, 46), IFLA_INFO_KIND);
  assert_memory_equal(bytes.data() + 48, "bridge", 7);
}

// In a network namespace of this test's own, when it may make one (root, or user namespaces).
void bridges_and_veth_pairs_in_a_private_namespace(void**) {
  // sysfs shows the namespace of whoever mounted it: a fresh one, in a mount namespace of the
  // test's own too.
  if (::unshare(CLONE_NEWNET | CLONE_NEWNS) != 0 ||
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount("sysfs", "/sys", "sysfs", 0, nullptr) != 0) {
    skip();
  }
  auto netlink = RtNetlink::open();
  assert_true(netlink.ok());
  auto bridge = netlink->createBridge("tbr0");
  if (!bridge.ok() && bridge.error().errnum() == EOPNOTSUPP) {
    skip();  // no bridge support in this kernel
  }
  assert_true(bridge.ok());
  auto again = netlink->createBridge("tbr0");
  assert_false(again.ok());
  assert_int_equal(again.error().errnum(), EEXIST);
  // Its address reads back as set; none before.
  auto none = ipv4AddressOf("tbr0");
  assert_true(none.ok() && !none->has_value());
  Ipv4Interface gateway = *parseIpv4Interface("10.9.0.1/16");
  assert_true(setIpv4Address("tbr0", gateway).ok());
  auto set = ipv4AddressOf("tbr0");
  assert_true(set.ok() && set->has_value());
  assert_string_equal((*set)->text().c_str(), "10.9.0.1/16");
  assert_true(netlink->createVethPair("tv0", "tv1").ok());
  assert_true(netlink->setMaster("tv0", "tbr0").ok());
  auto master = readFile("/sys/class/net/tv0/master/uevent");
  assert_true(master.ok());
  assert_non_null(std::strstr(master->c_str(), "INTERFACE=tbr0"));
  assert_true(netlink->deleteLink("tv0").ok());
  // Deleting one end of a veth pair deletes both.
  assert_int_equal(::access("/sys/class/net/tv1", F_OK), -1);
  assert_false(netlink->setMaster("nonesuch", "tbr0").ok());
  assert_true(netlink->deleteLink("tbr0").ok());
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_request_is_laid_out_as_the_kernel_reads_it),
      cmocka_unit_test(bridges_and_veth_pairs_in_a_private_namespace),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

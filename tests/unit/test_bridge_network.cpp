#include "common/bridge_network.h"
#include "common/process_identity.h"

#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include "common/egress_nat.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using namespace tandem;

namespace {

BridgeNetwork smallNetwork(void** state) {
  // 10.1.2.0/29: .1 is the gateway, .2 to .6 are for workloads.
  return {"tbr0", *parseIpv4Interface("10.1.2.1/29"), tempDir(state) + "/leases"};
}

void leases_take_the_lowest_free_address(void** state) {
  BridgeNetwork network = smallNetwork(state);
  auto first = AddressLease::acquire(network);
  auto second = AddressLease::acquire(network);
  assert_true(first.ok() && second.ok());
  assert_string_equal(first->address().text().c_str(), "10.1.2.2/29");
  assert_string_equal(second->address().text().c_str(), "10.1.2.3/29");
  {
    auto third = AddressLease::acquire(network);
    assert_string_equal(third->address().text().c_str(), "10.1.2.4/29");
  }
  // Released with its lease object, .4 is free again.
  auto again = AddressLease::acquire(network);
  assert_string_equal(again->address().text().c_str(), "10.1.2.4/29");
}

void a_full_subnet_is_an_error_that_says_so(void** state) {
  BridgeNetwork network = smallNetwork(state);
  std::vector<AddressLease> held;
  for (int i = 0; i < 5; ++i) {
    auto lease = AddressLease::acquire(network);
    assert_true(lease.ok());
    held.push_back(std::move(lease).value());
  }
  auto none = AddressLease::acquire(network);
  assert_false(none.ok());
  assert_int_equal(none.error().errnum(), ENOSPC);
  assert_non_null(std::strstr(none.error().message().c_str(), "10.1.2.1/29"));
}

void a_lease_of_a_dead_process_is_taken_back(void** state) {
  BridgeNetwork network = smallNetwork(state);
  auto holder = [](pid_t pid) {
    return std::to_string(pid) + " " + std::to_string(processStartTime(pid).value_or(0)) + "\n";
  };
  pid_t reaped = ::fork();
  if (reaped == 0) {
    _exit(0);
  }
  std::string reapedHolder = holder(reaped);
  assert_true(::waitpid(reaped, nullptr, 0) == reaped);
  // A zombie has ended, reaped or not: waited for here without being reaped (WNOWAIT).
  pid_t zombie = ::fork();
  if (zombie == 0) {
    _exit(0);
  }
  siginfo_t ended{};
  assert_int_equal(::waitid(P_PID, static_cast<id_t>(zombie), &ended, WEXITED | WNOWAIT), 0);
  {
    auto first = AddressLease::acquire(network);  // creates the folder
  }
  assert_true(writeFile(network.leaseDirectory + "/10.1.2.2", reapedHolder).ok());
  // A live holder (this process) keeps its address.
  assert_true(writeFile(network.leaseDirectory + "/10.1.2.3", holder(::getpid())).ok());
  assert_true(writeFile(network.leaseDirectory + "/10.1.2.4", holder(zombie)).ok());
  auto lease = AddressLease::acquire(network);
  assert_string_equal(lease->address().text().c_str(), "10.1.2.2/29");
  auto next = AddressLease::acquire(network);
  assert_string_equal(next->address().text().c_str(), "10.1.2.4/29");
  auto after = AddressLease::acquire(network);
  assert_string_equal(after->address().text().c_str(), "10.1.2.5/29");
  assert_true(::waitpid(zombie, nullptr, 0) == zombie);
}

void stale_leases_are_swept_and_live_ones_kept(void** state) {
  BridgeNetwork network = smallNetwork(state);
  auto none = reclaimStaleLeases(network);  // no folder yet: nothing to do
  assert_true(none.ok());
  assert_int_equal(*none, 0);
  pid_t reaped = ::fork();
  if (reaped == 0) {
    _exit(0);
  }
  std::string reapedHolder =
      std::to_string(reaped) + " " + std::to_string(processStartTime(reaped).value_or(0)) + "\n";
  assert_true(::waitpid(reaped, nullptr, 0) == reaped);
  auto held = AddressLease::acquire(network);  // 10.1.2.2, this process's
  assert_true(held.ok());
  assert_true(writeFile(network.leaseDirectory + "/10.1.2.5", reapedHolder).ok());
  assert_true(writeFile(network.leaseDirectory + "/10.1.2.6", "garbage").ok());
  auto swept = reclaimStaleLeases(network);
  assert_true(swept.ok());
  assert_int_equal(*swept, 2);
  assert_true(::access((network.leaseDirectory + "/10.1.2.2").c_str(), F_OK) == 0);
  assert_true(::access((network.leaseDirectory + "/10.1.2.5").c_str(), F_OK) != 0);
  assert_true(::access((network.leaseDirectory + "/10.1.2.6").c_str(), F_OK) != 0);
  assert_true(::access((network.leaseDirectory + "/.lock").c_str(), F_OK) == 0);
}

void egress_nat_masquerades_the_subnet_leaving_by_other_links(void**) {
  tandem::BridgeNetwork network;
  network.gateway = {tandem::Ipv4Address{0x0a590001}, 16};
  std::string rules = tandem::egressNatRuleset(network);
  // Replaced whole: emptied first, in the same transaction.
  assert_non_null(std::strstr(rules.c_str(), "add table ip tandem\ndelete table ip tandem\n"));
  assert_non_null(std::strstr(rules.c_str(), "type nat hook postrouting priority srcnat;"));
  assert_non_null(
      std::strstr(rules.c_str(), "ip saddr 10.89.0.0/16 oifname != \"tandem0\" masquerade"));
}

void host_link_names_fit_the_kernel(void**) {
  std::string name = hostLinkName("0123456789abcdef0123456789abcdef");
  assert_string_equal(name.c_str(), "tdm0123456789ab");
  assert_true(name.size() <= 15);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(leases_take_the_lowest_free_address, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_full_subnet_is_an_error_that_says_so, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(stale_leases_are_swept_and_live_ones_kept, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_lease_of_a_dead_process_is_taken_back, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test(egress_nat_masquerades_the_subnet_leaving_by_other_links),
      cmocka_unit_test(host_link_names_fit_the_kernel),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

#include "tools/guest-init/boot_options.h"

#include "tests/unit/unit_test.h"

using namespace tandem::guest_init;

namespace {

void the_root_device_is_read_from_the_command_line(void**) {
  auto root =
      rootDeviceFrom("console=ttyS1 quiet rdinit=/.tandem/init root=/dev/vda rootfstype=ext4 rw\n");
  assert_true(root.has_value());
  assert_string_equal(root->device.c_str(), "/dev/vda");
  assert_string_equal(root->type.c_str(), "ext4");
  assert_false(root->readOnly);

  auto readOnly = rootDeviceFrom("rw root=/dev/vdb ro");
  assert_true(readOnly.has_value());
  assert_true(readOnly->readOnly);
  assert_string_equal(readOnly->type.c_str(), "ext4");  // the default
}

void without_a_device_root_there_is_none(void**) {
  assert_false(rootDeviceFrom("console=ttyS1 quiet").has_value());
  assert_false(rootDeviceFrom("root=").has_value());
  assert_false(rootDeviceFrom("root=/dev/").has_value());
  assert_false(rootDeviceFrom("root=LABEL=x").has_value());
  assert_false(rootDeviceFrom("").has_value());
}

void networks_are_read_in_order(void**) {
  auto networks = networksFrom(
      "console=ttyS1 tandem.net=eth0,10.0.2.2/24,10.0.2.1 quiet tandem.net=eth1,192.168.7.9/16");
  assert_true(networks.ok());
  assert_int_equal(networks->size(), 2);
  const GuestNetwork& first = (*networks)[0];
  assert_string_equal(first.interface.c_str(), "eth0");
  assert_string_equal(first.address.text().c_str(), "10.0.2.2/24");
  assert_string_equal(first.gateway->text().c_str(), "10.0.2.1");
  assert_string_equal((*networks)[1].address.text().c_str(), "192.168.7.9/16");
  assert_false((*networks)[1].gateway.has_value());
  assert_true(networksFrom("root=/dev/vda")->empty());
}

void a_malformed_network_is_an_error(void**) {
  for (const char* bad : {"tandem.net=", "tandem.net=eth0", "tandem.net=,10.0.0.1/8",
                          "tandem.net=eth0,10.0.0.300/8", "tandem.net=eth0,10.0.0.1/8,gw"}) {
    auto networks = networksFrom(bad);
    if (networks.ok()) fail_msg("\"%s\" was accepted", bad);
    assert_non_null(std::strstr(networks.error().message().c_str(), "tandem.net="));
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(the_root_device_is_read_from_the_command_line),
      cmocka_unit_test(without_a_device_root_there_is_none),
      cmocka_unit_test(networks_are_read_in_order),
      cmocka_unit_test(a_malformed_network_is_an_error),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

#include "tools/guest-init/boot_options.h"

#include "tests/unit/unit_test.h"

using tandem::guest_init::rootDeviceFrom;

namespace {

void the_root_device_is_read_from_the_command_line(void**) {
  auto root = rootDeviceFrom(
      "console=ttyS1 quiet rdinit=/.tandem/init root=/dev/vda rootfstype=ext4 rw\n");
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

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(the_root_device_is_read_from_the_command_line),
      cmocka_unit_test(without_a_device_root_there_is_none),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

#include "common/ipv4.h"

#include "tests/unit/unit_test.h"

using namespace tandem;

namespace {

void addresses_parse_and_format(void**) {
  auto address = parseIpv4("10.88.0.2");
  assert_true(address.has_value());
  assert_int_equal(address->value, 0x0a580002);
  assert_string_equal(address->text().c_str(), "10.88.0.2");
  assert_int_equal(parseIpv4("255.255.255.255")->value, 0xffffffff);
  assert_int_equal(parseIpv4("0.0.0.0")->value, 0);
}

void ambiguous_addresses_are_refused(void**) {
  for (const char* bad : {"", "10.0.0", "10.0.0.1.", "10.0.0.256", "10.0.0.01", "10..0.1",
                          "1.2.3.4.5", "a.b.c.d", "10.0.0.-1", " 10.0.0.1", "1000.0.0.1"}) {
    if (parseIpv4(bad).has_value()) fail_msg("\"%s\" parsed", bad);
  }
}

void interfaces_take_a_prefix(void**) {
  auto subnet = parseIpv4Interface("10.88.0.2/16");
  assert_true(subnet.has_value());
  assert_int_equal(subnet->prefix, 16);
  assert_int_equal(subnet->netmask(), 0xffff0000);
  assert_string_equal(subnet->text().c_str(), "10.88.0.2/16");
  assert_int_equal(parseIpv4Interface("10.0.0.1")->prefix, 32);
  assert_int_equal(parseIpv4Interface("0.0.0.0/0")->netmask(), 0);
  for (const char* bad : {"10.0.0.1/33", "10.0.0.1/", "10.0.0.1/08", "10.0.0.1/x", "/24"}) {
    if (parseIpv4Interface(bad).has_value()) fail_msg("\"%s\" parsed", bad);
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(addresses_parse_and_format),
      cmocka_unit_test(ambiguous_addresses_are_refused),
      cmocka_unit_test(interfaces_take_a_prefix),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

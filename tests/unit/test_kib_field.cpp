// The kB fields of /proc files: found at a line's start only, in bytes, and absent or malformed
// ones told apart from zero.
#include "common/kib_field.h"

#include "tests/unit/unit_test.h"

using tandem::kibField;

namespace {

constexpr const char* kMeminfo =
    "MemTotal:       24558828 kB\n"
    "MemFree:         1000000 kB\n"
    "MemAvailable:   23995608 kB\n"
    "Broken:         lots kB\n"
    "Zero:                  0 kB";  // no final newline

void fields_are_read_in_bytes_from_a_lines_start(void**) {
  assert_int_equal(*kibField(kMeminfo, "MemTotal:"), 24558828ull * 1024);
  assert_int_equal(*kibField(kMeminfo, "MemAvailable:"), 23995608ull * 1024);
  assert_int_equal(*kibField(kMeminfo, "Zero:"), 0);
  assert_int_equal(*kibField("Name:\ttandem\nVmRSS:\t    2048 kB\n", "VmRSS:"), 2048 * 1024);
  // "Free:" is inside "MemFree:", not at a line's start.
  assert_false(kibField(kMeminfo, "Free:").has_value());
  assert_false(kibField(kMeminfo, "Broken:").has_value());
  assert_false(kibField(kMeminfo, "Missing:").has_value());
  assert_false(kibField("", "MemTotal:").has_value());
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fields_are_read_in_bytes_from_a_lines_start),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

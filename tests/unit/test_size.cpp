#include "common/size.h"
#include "tests/unit/unit_test.h"

using tandem::formatSize;
using tandem::parseMilli;
using tandem::parseSize;

static void parses_units(void**) {
  assert_int_equal(*parseSize("4096"), 4096);
  assert_int_equal(*parseSize("32M"), 32u << 20);
  assert_int_equal(*parseSize("32m"), 32u << 20);
  assert_int_equal(*parseSize("1g"), 1ull << 30);
  assert_int_equal(*parseSize("512kb"), 512u << 10);
  assert_int_equal(*parseSize("1.5G"), 3ull << 29);
}

static void rejects_garbage(void**) {
  assert_false(parseSize("").ok());
  assert_false(parseSize("M").ok());
  assert_false(parseSize("-1M").ok());
  assert_false(parseSize("12Q").ok());
  assert_false(parseSize("1.").ok());
  assert_false(parseSize(".5m").ok());
  assert_false(parseSize("99999999999999999999").ok());
  assert_false(parseSize("20000000000000t").ok());
  auto error = parseSize("lots");
  assert_false(error.ok());
  assert_non_null(strstr(error.error().message().c_str(), "lots"));
}

static void formats_whole_units(void**) {
  assert_string_equal(formatSize(32u << 20).c_str(), "32 MiB");
  assert_string_equal(formatSize(1000).c_str(), "1000 B");
  assert_string_equal(formatSize(3u << 10).c_str(), "3 KiB");
}

static void formats_approximately_for_readers(void**) {
  using tandem::formatApproximateSize;
  assert_string_equal(formatApproximateSize(512).c_str(), "512 B");
  assert_string_equal(formatApproximateSize(392 << 10).c_str(), "392 KiB");
  assert_string_equal(formatApproximateSize(24024632ull << 10).c_str(), "22.9 GiB");
  assert_string_equal(formatApproximateSize(260ull << 20).c_str(), "260 MiB");
  assert_string_equal(formatApproximateSize((3ull << 20) / 2).c_str(), "1.5 MiB");
}

static void parses_millis(void**) {
  assert_int_equal(*parseMilli("1.5"), 1500);
  assert_int_equal(*parseMilli("2"), 2000);
  assert_int_equal(*parseMilli("0.25"), 250);
  assert_false(parseMilli("1,5").ok());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_units),        cmocka_unit_test(rejects_garbage),
      cmocka_unit_test(formats_whole_units), cmocka_unit_test(formats_approximately_for_readers),
      cmocka_unit_test(parses_millis),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

// The CRI log format: records split at newlines only, pieces marked partial, times to the
// nanosecond, and what is not a record refused.
#include "common/workload_log.h"

#include "tests/unit/unit_test.h"

using namespace tandem;

namespace {

// 2026-12-06T09:13:27.000000042Z
constexpr std::int64_t kTime = 1796548407LL * 1'000'000'000 + 42;

void times_are_rfc3339_with_nanoseconds_in_utc(void**) {
  assert_string_equal(formatLogTime(kTime).c_str(), "2026-12-06T09:13:27.000000042Z");
  assert_string_equal(formatLogTime(0).c_str(), "1970-01-01T00:00:00.000000000Z");
}

void output_splits_into_full_lines_and_a_trailing_piece(void**) {
  assert_string_equal(formatLogRecords(LogStream::kStdout, "one\ntwo\nthr", kTime).c_str(),
                      "2026-12-06T09:13:27.000000042Z stdout F one\n"
                      "2026-12-06T09:13:27.000000042Z stdout F two\n"
                      "2026-12-06T09:13:27.000000042Z stdout P thr\n");
  assert_string_equal(formatLogRecords(LogStream::kStderr, "\n", kTime).c_str(),
                      "2026-12-06T09:13:27.000000042Z stderr F \n");
  assert_true(formatLogRecords(LogStream::kStdout, "", kTime).empty());
}

void records_parse_back_to_the_output_byte_for_byte(void**) {
  std::string output("a line\n\ttabs and \r returns\nbinary \x01\xff\0 bytes\nno end", 49);
  std::string records = formatLogRecords(LogStream::kStderr, output, kTime);
  std::string joined;
  std::size_t start = 0;
  for (std::size_t newline; (newline = records.find('\n', start)) != std::string::npos;
       start = newline + 1) {
    auto record = parseLogRecord(std::string_view(records).substr(start, newline - start));
    assert_true(record.has_value());
    assert_true(record->stream == LogStream::kStderr);
    assert_true(record->timeNs == kTime);
    joined += record->output();
  }
  assert_true(joined == output);
}

void what_is_not_a_record_is_refused(void**) {
  for (const char* line :
       {"", "garbage", "2026-12-06T09:13:27.000000042Z stdin F x",
        "2026-12-06T09:13:27.000000042Z stdout X x", "2026-12-06T09:13:27Z stdout F x",
        "2026-13-06T09:13:27.00000004xZ stdout F x", "2026-12-06T09:13:27.000000042Z stdout F"}) {
    assert_false(parseLogRecord(line).has_value());
  }
  auto empty = parseLogRecord("2026-12-06T09:13:27.000000042Z stdout F ");
  assert_true(empty.has_value());
  assert_true(empty->text.empty() && !empty->partial);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(times_are_rfc3339_with_nanoseconds_in_utc),
      cmocka_unit_test(output_splits_into_full_lines_and_a_trailing_piece),
      cmocka_unit_test(records_parse_back_to_the_output_byte_for_byte),
      cmocka_unit_test(what_is_not_a_record_is_refused),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

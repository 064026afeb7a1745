// The log relay as a process: what is written to its pipes lands in the log as CRI records,
// stdout and stderr apart; past max-size the log rotates, whole records only, keeping max-file
// files; and --log-opt is parsed with clear refusals.
#include "scheduler/log_relay.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/workload_log.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using namespace tandem;
using namespace tandem::scheduler;

namespace {

// The output the log's records stand for, per stream, across `files` in order.
std::string replay(const std::vector<std::string>& files, LogStream stream) {
  std::string output;
  for (const std::string& file : files) {
    auto text = readFile(file);
    assert_true(text.ok());
    std::size_t start = 0;
    for (std::size_t end; (end = text->find('\n', start)) != std::string::npos; start = end + 1) {
      auto record = parseLogRecord(std::string_view(*text).substr(start, end - start));
      assert_true(record.has_value());
      if (record->stream == stream) output += record->output();
    }
  }
  return output;
}

void output_lands_in_the_log_streams_apart(void** state) {
  std::string log = tempDir(state) + "/log";
  auto relay = LogRelay::start(log, /*copyToCaller=*/false);
  assert_true(relay.ok());
  assert_true(writeAll(relay->stdoutWriter().get(), "out 1\nout ", "stdout").ok());
  assert_true(writeAll(relay->stderrWriter().get(), "err\n", "stderr").ok());
  assert_true(writeAll(relay->stdoutWriter().get(), "2\n", "stdout").ok());
  relay->stdoutWriter().reset();
  relay->stderrWriter().reset();
  assert_true(relay->wait().ok());
  assert_string_equal(replay({log}, LogStream::kStdout).c_str(), "out 1\nout 2\n");
  assert_string_equal(replay({log}, LogStream::kStderr).c_str(), "err\n");
}

void the_log_rotates_whole_records_keeping_max_files(void** state) {
  std::string log = tempDir(state) + "/log";
  LogLimits limits;
  assert_true(applyLogOption("max-size=4k", limits).ok());
  assert_true(applyLogOption("max-file=3", limits).ok());
  auto relay = LogRelay::start(log, false, limits);
  assert_true(relay.ok());
  std::string written;
  for (int i = 0; i < 400; ++i) {
    std::string line = "line " + std::to_string(i) + "\n";
    written += line;
    assert_true(writeAll(relay->stdoutWriter().get(), line, "stdout").ok());
  }
  relay->stdoutWriter().reset();
  relay->stderrWriter().reset();
  assert_true(relay->wait().ok());
  std::vector<std::string> files = logFiles(log, 100);
  assert_int_equal(files.size(), 3);
  assert_string_equal(files[0].c_str(), (log + ".2").c_str());
  assert_false(pathExists(log + ".3"));
  for (const std::string& file : files) {
    struct stat info {};
    assert_int_equal(::stat(file.c_str(), &info), 0);
    assert_true(info.st_size <= 4096);
  }
  // The kept files hold the end of the output, whole.
  std::string kept = replay(files, LogStream::kStdout);
  assert_true(kept.size() < written.size());
  assert_true(written.ends_with(kept));
  assert_true(kept.starts_with("line "));
}

void log_options_are_checked(void**) {
  LogLimits limits;
  assert_true(applyLogOption("max-size=10m", limits).ok());
  assert_int_equal(limits.maxBytes, 10ull << 20);
  for (const char* bad : {"max-size=1", "max-size=lots", "max-file=0", "max-file=x", "max-file=101",
                          "color=red", "max-size"}) {
    auto applied = applyLogOption(bad, limits);
    assert_false(applied.ok());
    assert_true(applied.error().message().find("--log-opt") != std::string::npos);
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(output_lands_in_the_log_streams_apart, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(the_log_rotates_whole_records_keeping_max_files, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test(log_options_are_checked),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

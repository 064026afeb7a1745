#include <string>

#include "common/registry/transfer_progress.h"
#include "tests/unit/unit_test.h"

using tandem::image::Digest;
using tandem::registry::humanBytes;
using tandem::registry::TransferDirection;
using tandem::registry::TransferProgress;

static void formats_sizes_like_docker(void**) {
  assert_string_equal(humanBytes(0).c_str(), "0B");
  assert_string_equal(humanBytes(999).c_str(), "999B");
  assert_string_equal(humanBytes(1500).c_str(), "1.5kB");
  assert_string_equal(humanBytes(34500000).c_str(), "34.5MB");
}

static void renders_terminal_rows(void**) {
  TransferProgress progress;
  Digest a = Digest::ofText("a");
  Digest b = Digest::ofText("b");
  Digest c = Digest::ofText("c");
  auto rowA = progress.add(a, 2000);
  auto rowB = progress.add(b, 100);
  progress.add(c, 50);
  progress.started(rowA, 0);
  progress.advanced(rowA, 1000);
  progress.alreadyExists(rowB);
  std::string frame = progress.renderTerminal(200);
  std::string expected = a.shortId() +
                         ": Downloading [====================>                   ] 1.0kB/2.0kB\n" +
                         b.shortId() + ": Already exists\n" + c.shortId() + ": Waiting\n";
  assert_string_equal(frame.c_str(), expected.c_str());

  progress.downloaded(rowA);
  assert_non_null(strstr(progress.renderTerminal(200).c_str(), "Download complete"));
  progress.completed(rowA);
  assert_non_null(strstr(progress.renderTerminal(200).c_str(), "Pull complete"));
}

static void cuts_rows_to_the_terminal_width(void**) {
  TransferProgress progress;
  auto row = progress.add(Digest::ofText("a"), 2000);
  progress.started(row, 0);
  std::string frame = progress.renderTerminal(30);
  assert_int_equal(frame.size(), 30);  // 29 columns and the newline
  assert_int_equal(frame.back(), '\n');
}

static void plain_lines_say_start_resume_and_end(void**) {
  TransferProgress progress;
  Digest a = Digest::ofText("a");
  auto row = progress.add(a, 4000);
  progress.started(row, 0);
  assert_string_equal(progress.plainLine(row).c_str(),
                      (a.shortId() + ": downloading 4000 bytes\n").c_str());
  progress.retrying(row);
  assert_string_equal(progress.plainLine(row).c_str(),
                      (a.shortId() + ": retrying, attempt 2\n").c_str());
  progress.started(row, 1234);
  assert_string_equal(progress.plainLine(row).c_str(),
                      (a.shortId() + ": downloading 4000 bytes, resuming at 1234 bytes\n").c_str());
  progress.completed(row);
  assert_string_equal(progress.plainLine(row).c_str(),
                      (a.shortId() + ": Pull complete (4000 bytes)\n").c_str());
  auto reused = progress.add(Digest::ofText("b"), 10);
  progress.alreadyExists(reused);
  assert_non_null(strstr(progress.plainLine(reused).c_str(), ": Already exists\n"));
}

static void push_rows_speak_docker_push(void**) {
  TransferProgress progress(TransferDirection::kPush);
  Digest a = Digest::ofText("a");
  Digest b = Digest::ofText("b");
  Digest c = Digest::ofText("c");
  Digest d = Digest::ofText("d");
  auto rowA = progress.add(a, 2000);
  auto rowB = progress.add(b, 100);
  auto rowC = progress.add(c, 50);
  progress.add(d, 10);
  progress.started(rowA, 0);
  progress.advanced(rowA, 1000);
  progress.alreadyExists(rowB);
  progress.mounted(rowC, "test/base");
  std::string expected = a.shortId() +
                         ": Pushing [====================>                   ] 1.0kB/2.0kB\n" +
                         b.shortId() + ": Layer already exists\n" + c.shortId() +
                         ": Mounted from test/base\n" + d.shortId() + ": Preparing\n";
  assert_string_equal(progress.renderTerminal(200).c_str(), expected.c_str());
  assert_string_equal(progress.plainLine(rowA).c_str(),
                      (a.shortId() + ": pushing 2000 bytes\n").c_str());
  progress.completed(rowA);
  assert_string_equal(progress.plainLine(rowA).c_str(),
                      (a.shortId() + ": Pushed (2000 bytes)\n").c_str());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(push_rows_speak_docker_push),
      cmocka_unit_test(formats_sizes_like_docker),
      cmocka_unit_test(renders_terminal_rows),
      cmocka_unit_test(cuts_rows_to_the_terminal_width),
      cmocka_unit_test(plain_lines_say_start_resume_and_end),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

#include "vmm/process_lockdown.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "tests/unit/child_checks.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using tandem::UniqueFd;
using tandem::vmm::fileSizeLimit;
using tandem::vmm::kVmmReportFileBytes;
using tandem::vmm::lockDownProcess;

namespace {

void the_limit_is_the_largest_writable_disk(void**) {
  int pipe[2];
  assert_int_equal(::pipe2(pipe, O_CLOEXEC), 0);
  UniqueFd reader(pipe[0]);
  UniqueFd writer(pipe[1]);
  auto limit = fileSizeLimit(std::uint64_t{64} << 20, {writer.get(), -1});
  assert_true(limit.has_value());
  assert_int_equal(*limit, std::uint64_t{64} << 20);
  // Without writable disks, room for the report file only.
  auto bare = fileSizeLimit(0, {writer.get(), writer.get()});
  assert_true(bare.has_value());
  assert_int_equal(*bare, kVmmReportFileBytes);
}

void output_to_a_regular_file_lifts_the_limit(void** state) {
  UniqueFd file(::open((tempDir(state) + "/out").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  assert_true(file.valid());
  assert_false(fileSizeLimit(std::uint64_t{1} << 30, {-1, file.get()}).has_value());
}

// In a child, as tandem-vmm would: a write past the limit fails with EFBIG instead of killing
// the process with SIGXFSZ, and a write within it succeeds.
void a_write_past_the_limit_fails_and_does_not_kill(void** state) {
  std::string path = tempDir(state) + "/disk";
  assertChildPasses([&] {
    if (!lockDownProcess({.maxFileSize = 4096}).ok()) return 10;
    UniqueFd disk(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    std::vector<char> block(4096, 'x');
    if (::pwrite(disk.get(), block.data(), block.size(), 0) != 4096) return 11;
    if (::pwrite(disk.get(), block.data(), block.size(), 4096) != -1 || errno != EFBIG) return 12;
    return 0;
  });
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(the_limit_is_the_largest_writable_disk),
      cmocka_unit_test_setup_teardown(output_to_a_regular_file_lifts_the_limit, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_write_past_the_limit_fails_and_does_not_kill, makeTempDir,
                                      removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

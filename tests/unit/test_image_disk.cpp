// The disk planning of common/image/image_disk: what a tree needs, and the size and inode count
// mkfs.ext4 is given for it. Building a disk needs mkfs.ext4 and is covered end to end.
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "common/file.h"
#include "common/folder_disk.h"
#include "common/image/image_disk.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using tandem::DiskPlan;
using tandem::kDiskBlockBytes;
using tandem::kDiskInodeBytes;
using tandem::measureTree;
using tandem::planDisk;
using tandem::TreeUsage;

namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

void an_empty_tree_still_gets_metadata_and_spare_inodes(void**) {
  DiskPlan plan = planDisk({});
  assert_int_equal(plan.inodes, 64);
  assert_int_equal(plan.bytes % kMiB, 0);
  assert_true(plan.bytes >= 16 * kMiB);
  assert_true(plan.bytes <= 18 * kMiB);
}

void the_plan_leaves_a_quarter_free(void**) {
  TreeUsage usage{.dataBlocks = 100000, .entries = 4000};
  DiskPlan plan = planDisk(usage);
  assert_int_equal(plan.inodes, 4000 + 1000 + 64);
  std::uint64_t data = usage.dataBlocks * kDiskBlockBytes;
  assert_true(plan.bytes >= data + data / 4 + plan.inodes * kDiskInodeBytes);
  assert_int_equal(plan.bytes % kMiB, 0);
  // Twice the data, at least a little more than twice the room.
  DiskPlan bigger = planDisk({.dataBlocks = 200000, .entries = 4000});
  assert_true(bigger.bytes - plan.bytes >= data + data / 4 - kMiB);
}

void measures_files_folders_and_long_symlinks(void** state) {
  const std::string& root = tempDir(state);
  assert_true(tandem::makeDirectories(root + "/tree/sub").ok());
  assert_true(tandem::writeFile(root + "/tree/sub/five-thousand", std::string(5000, 'x')).ok());
  assert_true(tandem::writeFile(root + "/tree/empty", "").ok());
  assert_int_equal(::symlink("short", (root + "/tree/short-link").c_str()), 0);
  assert_int_equal(::symlink(std::string(100, 'l').c_str(), (root + "/tree/long-link").c_str()), 0);
  auto usage = measureTree(root + "/tree");
  assert_true(usage.ok());
  // tree, sub, two files, two links.
  assert_int_equal(usage->entries, 6);
  // Two blocks of file, one of the long link's target, and at least one per folder (tmpfs and
  // ext4 give folders different sizes).
  assert_true(usage->dataBlocks >= 2 + 1 + 2);
  assert_true(usage->dataBlocks <= 2 + 1 + 2 * 4);
}

void a_missing_tree_is_an_error_that_names_it(void** state) {
  auto usage = measureTree(tempDir(state) + "/nothing-here");
  assert_false(usage.ok());
  assert_non_null(strstr(usage.error().message().c_str(), "nothing-here"));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(an_empty_tree_still_gets_metadata_and_spare_inodes),
      cmocka_unit_test(the_plan_leaves_a_quarter_free),
      cmocka_unit_test_setup_teardown(measures_files_folders_and_long_symlinks, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_missing_tree_is_an_error_that_names_it, makeTempDir,
                                      removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

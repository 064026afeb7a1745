// File helpers on a scratch directory: removeTree must never follow a link or cross a mount out
// of the tree it was given.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/file.h"
#include "tests/unit/unit_test.h"

using tandem::isDirectory;
using tandem::makeDirectories;
using tandem::pathExists;
using tandem::readFile;
using tandem::removeTree;
using tandem::writeExistingFile;
using tandem::writeFile;

namespace {

struct Scratch {
  std::string dir;
  std::string outside;  // beside the tree under test, where links point
};

int makeScratch(void** state) {
  char templ[] = "/tmp/tandem-file-test-XXXXXX";
  if (::mkdtemp(templ) == nullptr) {
    return -1;
  }
  auto* scratch = new Scratch{templ, std::string(templ) + "/outside"};
  if (::mkdir(scratch->outside.c_str(), 0755) != 0) {
    return -1;
  }
  *state = scratch;
  return 0;
}

int removeScratch(void** state) {
  auto* scratch = static_cast<Scratch*>(*state);
  std::string command = "rm -rf -- '" + scratch->dir + "'";
  int rc = std::system(command.c_str());
  delete scratch;
  return rc == 0 ? 0 : -1;
}

const Scratch& scratchOf(void** state) {
  return *static_cast<Scratch*>(*state);
}

void write(const std::string& path, const std::string& content) {
  auto status = writeFile(path, content);
  if (!status.ok()) {
    fail_msg("writeFile %s: %s", path.c_str(), status.error().describe().c_str());
  }
}

std::string read(const std::string& path) {
  auto content = readFile(path);
  if (!content.ok()) {
    fail_msg("readFile %s: %s", path.c_str(), content.error().describe().c_str());
  }
  return *content;
}

void mkdirOk(const std::string& path) {
  assert_int_equal(::mkdir(path.c_str(), 0755), 0);
}

void symlinkOk(const std::string& target, const std::string& path) {
  assert_int_equal(::symlink(target.c_str(), path.c_str()), 0);
}

}  // namespace

static void remove_tree_keeps_what_links_point_to(void** state) {
  const Scratch& s = scratchOf(state);
  write(s.outside + "/precious", "keep me");
  mkdirOk(s.outside + "/dir");
  write(s.outside + "/dir/also-precious", "keep me too");

  std::string tree = s.dir + "/tree";
  mkdirOk(tree);
  mkdirOk(tree + "/a");
  mkdirOk(tree + "/a/b");
  mkdirOk(tree + "/a/b/c");
  write(tree + "/a/file", "x");
  write(tree + "/a/b/c/deep", "y");
  write(tree + "/.hidden", "z");
  symlinkOk(s.outside, tree + "/link-to-dir");
  symlinkOk(s.outside + "/dir", tree + "/a/b/link-to-subdir");
  symlinkOk(s.outside + "/precious", tree + "/a/link-to-file");
  symlinkOk("../../../outside", tree + "/a/b/relative-link");
  symlinkOk("/nonexistent/target", tree + "/dangling");
  symlinkOk("loop", tree + "/a/loop");
  assert_int_equal(::mkfifo((tree + "/a/fifo").c_str(), 0600), 0);

  auto status = removeTree(tree);
  if (!status.ok()) {
    fail_msg("removeTree: %s", status.error().describe().c_str());
  }
  assert_false(pathExists(tree));
  assert_string_equal(read(s.outside + "/precious").c_str(), "keep me");
  assert_string_equal(read(s.outside + "/dir/also-precious").c_str(), "keep me too");
  assert_true(isDirectory(s.outside + "/dir"));
}

static void remove_tree_of_a_link_removes_only_the_link(void** state) {
  const Scratch& s = scratchOf(state);
  write(s.outside + "/precious", "keep me");
  std::string link = s.dir + "/link";
  symlinkOk(s.outside, link);
  assert_true(removeTree(link).ok());
  assert_false(pathExists(link));
  assert_string_equal(read(s.outside + "/precious").c_str(), "keep me");
  assert_true(isDirectory(s.outside));
  // With trailing slashes the kernel would follow the link; removeTree must not.
  symlinkOk(s.outside, link);
  assert_true(removeTree(link + "//").ok());
  assert_false(pathExists(link));
  assert_string_equal(read(s.outside + "/precious").c_str(), "keep me");
}

static void remove_tree_of_missing_and_plain_files(void** state) {
  const Scratch& s = scratchOf(state);
  assert_true(removeTree(s.dir + "/never-existed").ok());
  assert_true(removeTree(s.dir + "/never/existed/either").ok());
  write(s.dir + "/plain", "data");
  assert_true(removeTree(s.dir + "/plain").ok());
  assert_false(pathExists(s.dir + "/plain"));
  mkdirOk(s.dir + "/empty");
  assert_true(removeTree(s.dir + "/empty").ok());
  assert_false(pathExists(s.dir + "/empty"));
}

static void remove_tree_with_many_entries(void** state) {
  const Scratch& s = scratchOf(state);
  std::string tree = s.dir + "/wide";
  mkdirOk(tree);
  for (int i = 0; i < 2000; ++i) {
    write(tree + "/f" + std::to_string(i), "");
  }
  std::string deep = tree;
  for (int i = 0; i < 100; ++i) {
    deep += "/d";
    mkdirOk(deep);
  }
  assert_true(removeTree(tree).ok());
  assert_false(pathExists(tree));
}

static void remove_tree_stops_at_a_mount(void** state) {
  const Scratch& s = scratchOf(state);
  std::string tree = s.dir + "/mounted";
  mkdirOk(tree);
  mkdirOk(tree + "/mnt");
  if (::mount("tmpfs", (tree + "/mnt").c_str(), "tmpfs", 0, "size=64k") != 0) {
    skip();  // needs CAP_SYS_ADMIN
  }
  write(tree + "/mnt/on-another-filesystem", "keep me");
  auto status = removeTree(tree);
  std::string kept = pathExists(tree + "/mnt/on-another-filesystem")
                         ? read(tree + "/mnt/on-another-filesystem")
                         : std::string();
  ::umount2((tree + "/mnt").c_str(), MNT_DETACH);
  assert_false(status.ok());
  assert_non_null(std::strstr(status.error().message().c_str(), "mount point"));
  assert_string_equal(kept.c_str(), "keep me");
}

static void write_and_read_files(void** state) {
  const Scratch& s = scratchOf(state);
  std::string path = s.dir + "/data";
  write(path, "hello");
  assert_string_equal(read(path).c_str(), "hello");

  // Replacing truncates.
  write(path, "hi");
  assert_string_equal(read(path).c_str(), "hi");
  write(path, "");
  assert_int_equal(read(path).size(), 0);

  // Binary content, larger than one read, survives byte for byte.
  std::string binary;
  for (int i = 0; i < 100000; ++i) {
    binary.push_back(static_cast<char>(i * 131 % 256));
  }
  write(path, binary);
  std::string back = read(path);
  assert_int_equal(back.size(), binary.size());
  assert_true(back == binary);
}

static void write_file_sets_the_mode(void** state) {
  const Scratch& s = scratchOf(state);
  std::string path = s.dir + "/secret";
  assert_true(writeFile(path, "x", 0600).ok());
  struct stat st {};
  assert_int_equal(::stat(path.c_str(), &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_true(S_ISREG(st.st_mode));
}

static void read_file_errors(void** state) {
  const Scratch& s = scratchOf(state);
  auto missing = readFile(s.dir + "/missing");
  assert_false(missing.ok());
  assert_int_equal(missing.error().errnum(), ENOENT);
  assert_non_null(std::strstr(missing.error().message().c_str(), "/missing"));
  // A directory opens but cannot be read.
  auto directory = readFile(s.dir);
  assert_false(directory.ok());
  assert_int_equal(directory.error().errnum(), EISDIR);
  // Into a missing directory, a write fails rather than creating it.
  auto status = writeFile(s.dir + "/no/such/dir/file", "x");
  assert_false(status.ok());
  assert_int_equal(status.error().errnum(), ENOENT);
}

static void make_directories(void** state) {
  const Scratch& s = scratchOf(state);
  std::string path = s.dir + "/a/bb/ccc/d";
  assert_true(makeDirectories(path).ok());
  assert_true(isDirectory(path));
  // Already there is fine, as is a trailing slash.
  assert_true(makeDirectories(path).ok());
  assert_true(makeDirectories(s.dir + "/a/bb/").ok());
  assert_true(makeDirectories(s.dir + "/x//y").ok());
  assert_true(isDirectory(s.dir + "/x/y"));
  assert_true(makeDirectories("/").ok());

  assert_true(makeDirectories(s.dir + "/private", 0700).ok());
  struct stat st {};
  assert_int_equal(::stat((s.dir + "/private").c_str(), &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);

  auto empty = makeDirectories("");
  assert_false(empty.ok());
}

static void make_directories_relative(void** state) {
  const Scratch& s = scratchOf(state);
  char saved[PATH_MAX];
  assert_non_null(::getcwd(saved, sizeof saved));
  assert_int_equal(::chdir(s.dir.c_str()), 0);
  auto single = makeDirectories("a/b/c");
  auto longer = makeDirectories("abc/def");
  auto one = makeDirectories("z");
  assert_int_equal(::chdir(saved), 0);
  if (!single.ok()) {
    fail_msg("makeDirectories(\"a/b/c\"): %s", single.error().describe().c_str());
  }
  assert_true(longer.ok());
  assert_true(one.ok());
  assert_true(isDirectory(s.dir + "/a/b/c"));
  assert_true(isDirectory(s.dir + "/abc/def"));
  assert_true(isDirectory(s.dir + "/z"));
}

static void make_directories_with_a_file_in_the_way(void** state) {
  const Scratch& s = scratchOf(state);
  write(s.dir + "/file", "in the way");
  // The file is the last component.
  auto last = makeDirectories(s.dir + "/file");
  assert_false(last.ok());
  assert_non_null(std::strstr(last.error().message().c_str(), "/file"));
  // The file is in the middle.
  auto middle = makeDirectories(s.dir + "/file/sub/dir");
  assert_false(middle.ok());
  assert_int_equal(middle.error().errnum(), ENOTDIR);
  // A link to a file counts as one too.
  symlinkOk(s.dir + "/file", s.dir + "/link");
  assert_false(makeDirectories(s.dir + "/link").ok());
  assert_string_equal(read(s.dir + "/file").c_str(), "in the way");
  // A dangling link cannot be made a directory either.
  symlinkOk(s.dir + "/nowhere", s.dir + "/dangling");
  assert_false(makeDirectories(s.dir + "/dangling").ok());
}

static void write_existing_file(void** state) {
  const Scratch& s = scratchOf(state);
  std::string path = s.dir + "/missing";
  auto status = writeExistingFile(path, "x");
  assert_false(status.ok());
  assert_int_equal(status.error().errnum(), ENOENT);
  // And it was not created.
  assert_false(pathExists(path));

  // Kernel files take a write at offset 0 without truncation, and so does this.
  std::string existing = s.dir + "/existing";
  write(existing, "12345");
  assert_true(writeExistingFile(existing, "ab").ok());
  assert_string_equal(read(existing).c_str(), "ab345");

  assert_false(writeExistingFile(s.dir, "x").ok());
}

static void path_predicates(void** state) {
  const Scratch& s = scratchOf(state);
  write(s.dir + "/file", "");
  symlinkOk(s.dir + "/nowhere", s.dir + "/dangling");
  symlinkOk(s.outside, s.dir + "/dirlink");
  assert_true(pathExists(s.dir + "/file"));
  assert_false(isDirectory(s.dir + "/file"));
  assert_true(pathExists(s.dir + "/dangling"));
  assert_false(isDirectory(s.dir + "/dangling"));
  assert_true(isDirectory(s.dir + "/dirlink"));
  assert_true(isDirectory(s.dir));
  assert_false(pathExists(s.dir + "/nowhere"));
  assert_false(isDirectory(s.dir + "/nowhere"));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(remove_tree_keeps_what_links_point_to, makeScratch,
                                      removeScratch),
      cmocka_unit_test_setup_teardown(remove_tree_of_a_link_removes_only_the_link, makeScratch,
                                      removeScratch),
      cmocka_unit_test_setup_teardown(remove_tree_of_missing_and_plain_files, makeScratch,
                                      removeScratch),
      cmocka_unit_test_setup_teardown(remove_tree_with_many_entries, makeScratch, removeScratch),
      cmocka_unit_test_setup_teardown(remove_tree_stops_at_a_mount, makeScratch, removeScratch),
      cmocka_unit_test_setup_teardown(write_and_read_files, makeScratch, removeScratch),
      cmocka_unit_test_setup_teardown(write_file_sets_the_mode, makeScratch, removeScratch),
      cmocka_unit_test_setup_teardown(read_file_errors, makeScratch, removeScratch),
      cmocka_unit_test_setup_teardown(make_directories, makeScratch, removeScratch),
      cmocka_unit_test_setup_teardown(make_directories_relative, makeScratch, removeScratch),
      cmocka_unit_test_setup_teardown(make_directories_with_a_file_in_the_way, makeScratch,
                                      removeScratch),
      cmocka_unit_test_setup_teardown(write_existing_file, makeScratch, removeScratch),
      cmocka_unit_test_setup_teardown(path_predicates, makeScratch, removeScratch),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

// The microVM's initramfs written in place: the rootfs archive first, zero-padded to 4 bytes,
// then tandem's archive with the guest init and the workload; the room set aside always holds
// it, and inputs that change or are not files are errors, not overruns.
#include "vmm/workload_initrd.h"

#include <unistd.h>

#include <string>
#include <vector>

#include "common/file.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"
#include "vmm/guest_protocol.h"

using tandem::vmm::WorkloadInitrd;

namespace {

constexpr const char* kDescription = R"({"command":["true"]})";

std::string written(const WorkloadInitrd& initrd) {
  std::vector<std::uint8_t> room(initrd.maxBytes(), 0);
  auto length = initrd.writeTo(room);
  if (!length.ok()) {
    fail_msg("%s", length.error().describe().c_str());
  }
  assert_true(*length <= room.size());
  return {reinterpret_cast<const char*>(room.data()), *length};
}

void writeHostFile(const std::string& path, const std::string& content) {
  assert_true(tandem::writeFile(path, content).ok());
}

// Where tandem's archive names `name`, the entry's content follows its NUL-padded name.
void expectEntry(const std::string& archive, const std::string& name, const std::string& content) {
  auto at = archive.find(name.substr(1) + '\0');
  assert_true(at != std::string::npos);
  auto contentAt = (at + name.size() + 3) & ~std::size_t{3};
  assert_true(archive.compare(contentAt, content.size(), content) == 0);
}

// A rootfs archive and a guest init with the given contents, in `dir`.
WorkloadInitrd fromArchive(const std::string& dir, const std::string& rootfs,
                           const std::string& init) {
  writeHostFile(dir + "/rootfs.cpio", rootfs);
  writeHostFile(dir + "/init", init);
  auto initrd = WorkloadInitrd::create({.rootfsArchive = dir + "/rootfs.cpio",
                                        .guestInitPath = dir + "/init",
                                        .description = kDescription});
  if (!initrd.ok()) {
    fail_msg("%s", initrd.error().describe().c_str());
  }
  return std::move(initrd).value();
}

}  // namespace

static void prebuilt_archive_comes_first_then_tandems(void** state) {
  const std::string dir = tempDir(state);
  // Not a multiple of 4: the second archive must start at the next 4-byte boundary, after zeros.
  const std::string rootfs = "070701 a stand-in for a rootfs archive";
  assert_int_not_equal(rootfs.size() % 4, 0);
  std::string bytes = written(fromArchive(dir, rootfs, "#!guest-init"));
  assert_true(bytes.compare(0, rootfs.size(), rootfs) == 0);
  std::size_t second = (rootfs.size() + 3) & ~std::size_t{3};
  for (std::size_t i = rootfs.size(); i < second; ++i) {
    assert_int_equal(bytes[i], 0);
  }
  std::string tandem = bytes.substr(second);
  assert_true(tandem.compare(0, 6, "070701") == 0);
  expectEntry(tandem, tandem::guest::kInitPath, "#!guest-init");
  expectEntry(tandem, tandem::guest::kWorkloadPath, kDescription);
  assert_true(tandem.find("TRAILER!!!") != std::string::npos);
  assert_int_equal(tandem.size() % 4, 0);
}

static void a_folder_is_packed_as_the_rootfs(void** state) {
  const std::string dir = tempDir(state);
  assert_true(tandem::makeDirectories(dir + "/root/bin").ok());
  writeHostFile(dir + "/root/bin/hello", "hello from the rootfs");
  writeHostFile(dir + "/init", "#!guest-init");
  auto initrd = WorkloadInitrd::create({.rootfsDirectory = dir + "/root",
                                        .guestInitPath = dir + "/init",
                                        .description = kDescription});
  assert_true(initrd.ok());
  std::string bytes = written(*initrd);
  expectEntry(bytes, "/bin/hello", "hello from the rootfs");
  // Two archives, each with its own trailer, the rootfs's first.
  auto first = bytes.find("TRAILER!!!");
  assert_true(first != std::string::npos);
  assert_true(bytes.find("TRAILER!!!", first + 1) != std::string::npos);
  assert_true(bytes.find(".tandem/init") > first);
}

static void a_guest_init_that_grows_is_an_error(void** state) {
  const std::string dir = tempDir(state);
  WorkloadInitrd initrd = fromArchive(dir, "rootfs", "small");
  writeHostFile(dir + "/init", std::string(4096, 'x'));
  std::vector<std::uint8_t> room(initrd.maxBytes(), 0);
  auto length = initrd.writeTo(room);
  assert_false(length.ok());
  assert_int_equal(length.error().errnum(), ENOSPC);
}

static void a_rootfs_archive_that_shrinks_is_an_error(void** state) {
  const std::string dir = tempDir(state);
  WorkloadInitrd initrd = fromArchive(dir, std::string(1000, 'r'), "init");
  assert_int_equal(::truncate((dir + "/rootfs.cpio").c_str(), 10), 0);
  std::vector<std::uint8_t> room(initrd.maxBytes(), 0);
  auto length = initrd.writeTo(room);
  assert_false(length.ok());
  assert_non_null(strstr(length.error().message().c_str(), "rootfs.cpio"));
}

static void inputs_that_are_not_files_are_refused(void** state) {
  const std::string dir = tempDir(state);
  writeHostFile(dir + "/init", "init");
  auto folder = WorkloadInitrd::create(
      {.rootfsArchive = dir, .guestInitPath = dir + "/init", .description = kDescription});
  assert_false(folder.ok());
  assert_non_null(strstr(folder.error().message().c_str(), "not a regular file"));
  auto missing = WorkloadInitrd::create({.rootfsArchive = dir + "/absent.cpio",
                                         .guestInitPath = dir + "/init",
                                         .description = kDescription});
  assert_false(missing.ok());
  assert_int_equal(missing.error().errnum(), ENOENT);
  auto noRootfs = WorkloadInitrd::create({.guestInitPath = dir + "/init"});
  assert_false(noRootfs.ok());
  assert_non_null(strstr(noRootfs.error().message().c_str(), "--initramfs"));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(prebuilt_archive_comes_first_then_tandems, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_folder_is_packed_as_the_rootfs, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(a_guest_init_that_grows_is_an_error, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_rootfs_archive_that_shrinks_is_an_error, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(inputs_that_are_not_files_are_refused, makeTempDir,
                                      removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

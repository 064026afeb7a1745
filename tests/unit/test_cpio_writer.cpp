// The newc writer, checked against the format itself: exact header bytes for each kind of
// entry, alignment, the trailer, and a tree read back by an independent parser.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"
#include "vmm/cpio_writer.h"

using tandem::vmm::CpioAttributes;
using tandem::vmm::CpioWriter;
using tandem::vmm::FdSink;
using tandem::vmm::VectorSink;

namespace {

std::span<const std::uint8_t> bytesOf(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string textOf(const std::vector<std::uint8_t>& bytes, std::size_t from = 0,
                   std::size_t count = std::string::npos) {
  std::string all(bytes.begin(), bytes.end());
  return all.substr(from, count);
}

void expectOk(const tandem::Status& status) {
  if (!status.ok()) {
    fail_msg("%s", status.error().describe().c_str());
  }
}

// The header as the format spells it: magic, then 13 fields of 8 hex digits.
std::string header(std::uint32_t ino, std::uint32_t mode, std::uint32_t uid, std::uint32_t gid,
                   std::uint32_t nlink, std::uint32_t mtime, std::uint32_t size,
                   std::uint32_t rdevMajor, std::uint32_t rdevMinor, std::uint32_t nameSize) {
  char text[111];
  std::snprintf(text, sizeof text, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                ino, mode, uid, gid, nlink, mtime, size, 0u, 0u, rdevMajor, rdevMinor, nameSize,
                0u);
  return text;
}

struct Parsed {
  std::string name;
  std::uint32_t ino, mode, uid, gid, nlink, mtime, rdevMajor, rdevMinor;
  std::string data;
};

std::uint32_t field(const std::string& archive, std::size_t at) {
  return static_cast<std::uint32_t>(std::stoul(archive.substr(at, 8), nullptr, 16));
}

// Reads an archive back as the kernel would, failing the test on any deviation from the format.
std::vector<Parsed> parse(const std::vector<std::uint8_t>& bytes) {
  std::string archive(bytes.begin(), bytes.end());
  std::vector<Parsed> entries;
  std::size_t at = 0;
  for (;;) {
    assert_int_equal(at % 4, 0);
    assert_true(at + 110 <= archive.size());
    assert_string_equal(archive.substr(at, 6).c_str(), "070701");
    Parsed entry{};
    std::uint32_t fields[13];
    for (int i = 0; i < 13; ++i) {
      fields[i] = field(archive, at + 6 + 8 * i);
    }
    entry.ino = fields[0];
    entry.mode = fields[1];
    entry.uid = fields[2];
    entry.gid = fields[3];
    entry.nlink = fields[4];
    entry.mtime = fields[5];
    entry.rdevMajor = fields[9];
    entry.rdevMinor = fields[10];
    std::uint32_t size = fields[6], nameSize = fields[11];
    assert_int_equal(fields[7], 0);
    assert_int_equal(fields[8], 0);
    assert_int_equal(fields[12], 0);
    at += 110;
    assert_true(nameSize >= 2 && at + nameSize <= archive.size());
    assert_int_equal(archive[at + nameSize - 1], '\0');
    entry.name = archive.substr(at, nameSize - 1);
    assert_int_equal(entry.name.find('\0'), std::string::npos);
    std::size_t nameEnd = at + nameSize;
    at = (nameEnd + 3) & ~std::size_t{3};
    for (std::size_t i = nameEnd; i < at; ++i) {
      assert_int_equal(archive[i], '\0');
    }
    assert_true(at + size <= archive.size());
    entry.data = archive.substr(at, size);
    std::size_t end = (at + size + 3) & ~std::size_t{3};
    for (std::size_t i = at + size; i < end; ++i) {
      assert_int_equal(archive[i], '\0');
    }
    at = end;
    if (entry.name == "TRAILER!!!") {
      assert_int_equal(at, archive.size());
      return entries;
    }
    entries.push_back(std::move(entry));
  }
}

const Parsed& find(const std::vector<Parsed>& entries, const std::string& name) {
  for (const auto& entry : entries) {
    if (entry.name == name) return entry;
  }
  fail_msg("no entry named \"%s\" in the archive", name.c_str());
  abort();
}

bool contains(const std::vector<Parsed>& entries, const std::string& name) {
  for (const auto& entry : entries) {
    if (entry.name == name) return true;
  }
  return false;
}

void file_header_is_exact(void**) {
  std::vector<std::uint8_t> out;
  VectorSink sink(out);
  CpioWriter writer(sink);
  expectOk(writer.addFile("etc/hostname", bytesOf("guest\n"),
                          {.permissions = 0644, .uid = 1000, .gid = 100, .mtime = 1700000000}));
  std::string expected = header(1, 0100644, 1000, 100, 1, 1700000000, 6, 0, 0, 13) +
                         std::string("etc/hostname\0", 13) + std::string(1, '\0') + "guest\n" +
                         std::string(2, '\0');
  assert_int_equal(out.size(), 132);
  assert_int_equal(writer.size(), 132);
  assert_memory_equal(out.data(), expected.data(), expected.size());
}

void directory_header_is_exact(void**) {
  std::vector<std::uint8_t> out;
  VectorSink sink(out);
  CpioWriter writer(sink);
  expectOk(writer.addDirectory("/.tandem/", {.permissions = 0755, .mtime = 5}));
  std::string expected = header(1, 040755, 0, 0, 2, 5, 0, 0, 0, 8) + std::string(".tandem\0", 8) +
                         std::string(2, '\0');
  assert_int_equal(out.size(), expected.size());
  assert_memory_equal(out.data(), expected.data(), expected.size());
}

void symlink_header_is_exact(void**) {
  std::vector<std::uint8_t> out;
  VectorSink sink(out);
  CpioWriter writer(sink);
  expectOk(writer.addSymlink("bin/sh", "busybox", {.permissions = 0777}));
  // The target is the body, without a NUL.
  std::string expected = header(1, 0120777, 0, 0, 1, 0, 7, 0, 0, 7) + std::string("bin/sh\0", 7) +
                         std::string(3, '\0') + "busybox" + std::string(1, '\0');
  assert_int_equal(out.size(), expected.size());
  assert_memory_equal(out.data(), expected.data(), expected.size());
}

void device_headers_are_exact(void**) {
  std::vector<std::uint8_t> out;
  VectorSink sink(out);
  CpioWriter writer(sink);
  expectOk(writer.addCharDevice("dev/console", 5, 1, {.permissions = 0600}));
  expectOk(writer.addBlockDevice("dev/vda", 254, 0, {.permissions = 0660, .gid = 6}));
  std::string expected = header(1, 020600, 0, 0, 1, 0, 0, 5, 1, 12) +
                         std::string("dev/console\0", 12) + std::string(2, '\0') +
                         header(2, 060660, 0, 6, 1, 0, 0, 254, 0, 8) + std::string("dev/vda\0", 8) +
                         std::string(2, '\0');
  assert_int_equal(out.size(), expected.size());
  assert_memory_equal(out.data(), expected.data(), expected.size());
}

void every_entry_is_aligned(void**) {
  std::vector<std::uint8_t> out;
  VectorSink sink(out);
  CpioWriter writer(sink);
  std::vector<std::size_t> starts;
  for (std::size_t nameLength = 1; nameLength <= 8; ++nameLength) {
    for (std::size_t size = 0; size <= 5; ++size) {
      starts.push_back(out.size());
      std::string name = std::string(nameLength, 'n') + std::to_string(size);
      expectOk(writer.addFile(name, bytesOf(std::string(size, 'x')), {}));
    }
  }
  for (std::size_t start : starts) {
    assert_int_equal(start % 4, 0);
    assert_string_equal(textOf(out, start, 6).c_str(), "070701");
  }
  expectOk(writer.finish());
  assert_int_equal(out.size() % 4, 0);
  auto entries = parse(out);
  assert_int_equal(entries.size(), 48);
  assert_string_equal(find(entries, "nnnnn3").data.c_str(), "xxx");
}

void trailer_ends_the_archive(void**) {
  std::vector<std::uint8_t> out;
  VectorSink sink(out);
  CpioWriter writer(sink);
  expectOk(writer.finish());
  std::string expected = header(0, 0, 0, 0, 1, 0, 0, 0, 0, 11) + std::string("TRAILER!!!\0", 11) +
                         std::string(3, '\0');
  assert_int_equal(out.size(), 124);
  assert_memory_equal(out.data(), expected.data(), expected.size());
  assert_int_equal(writer.entries(), 0);
}

void refuses_names_that_would_not_round_trip(void**) {
  std::vector<std::uint8_t> out;
  VectorSink sink(out);
  CpioWriter writer(sink);
  for (std::string name :
       {std::string(""), std::string("/"), std::string("a//b"), std::string("../x"),
        std::string("a/./b"), std::string("a/.."), std::string("TRAILER!!!"),
        std::string("a\0b", 3), std::string(4096, 'n')}) {
    auto status = writer.addDirectory(name, {.permissions = 0755});
    assert_false(status.ok());
    assert_non_null(std::strstr(status.error().message().c_str(), "invalid archive name"));
  }
  auto typeInMode = writer.addFile("f", {}, {.permissions = S_IFREG | 0644});
  assert_false(typeInMode.ok());
  assert_non_null(std::strstr(typeInMode.error().message().c_str(), "0100644"));
  assert_false(writer.addSymlink("l", "", {}).ok());
  assert_false(writer.addSymlink("l", std::string("a\0b", 3), {}).ok());
  // Nothing was written for any of them.
  assert_int_equal(out.size(), 0);
  // The longest name the kernel takes still works.
  expectOk(writer.addDirectory(std::string(4095, 'n'), {}));
}

void fd_sink_matches_vector_sink(void**) {
  char path[] = "/tmp/tandem-cpio-test-XXXXXX";
  int fd = ::mkstemp(path);
  assert_true(fd >= 0);
  std::vector<std::uint8_t> memory;
  VectorSink vectorSink(memory);
  FdSink fdSink(fd, path);
  for (tandem::vmm::CpioSink* sink : {static_cast<tandem::vmm::CpioSink*>(&vectorSink),
                                      static_cast<tandem::vmm::CpioSink*>(&fdSink)}) {
    CpioWriter writer(*sink);
    expectOk(writer.addDirectory("d", {.permissions = 0700}));
    expectOk(writer.addFile("d/f", bytesOf("abc"), {}));
    expectOk(writer.finish());
  }
  std::vector<std::uint8_t> onDisk(memory.size() + 1);
  assert_int_equal(::pread(fd, onDisk.data(), onDisk.size(), 0), memory.size());
  assert_memory_equal(onDisk.data(), memory.data(), memory.size());
  ::close(fd);
  ::unlink(path);
}

// The mount-point test leaves a mount inside the tree, which removal must not cross.
int unmountAndRemoveTempDir(void** state) {
  ::umount2((tempDir(state) + "/root/mnt").c_str(), MNT_DETACH);
  return removeTempDir(state);
}

void writeHostFile(const std::string& path, const std::string& content, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  assert_true(fd >= 0);
  assert_int_equal(::write(fd, content.data(), content.size()), content.size());
  ::close(fd);
  assert_int_equal(::chmod(path.c_str(), mode), 0);
}

void setMtime(const std::string& path, time_t seconds) {
  timespec times[2] = {{seconds, 0}, {seconds, 0}};
  assert_int_equal(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
}

void append_tree_round_trips(void** state) {
  const std::string root = tempDir(state) + "/root";
  assert_int_equal(::mkdir(root.c_str(), 0755), 0);
  assert_int_equal(::mkdir((root + "/bin").c_str(), 0711), 0);
  assert_int_equal(::mkdir((root + "/empty").c_str(), 0700), 0);
  writeHostFile(root + "/bin/tool", "#!/bin/sh\necho \xff\n", 04755);
  writeHostFile(root + "/bin/empty-file", "", 0600);
  assert_int_equal(::link((root + "/bin/tool").c_str(), (root + "/bin/tool-link").c_str()), 0);
  assert_int_equal(::symlink("tool", (root + "/bin/sh").c_str()), 0);
  assert_int_equal(::symlink("/nowhere/../at/all", (root + "/dangling").c_str()), 0);
  assert_int_equal(::mkfifo((root + "/fifo").c_str(), 0620), 0);
  assert_int_equal(::chmod((root + "/fifo").c_str(), 0620), 0);  // past the umask
  bool root_user = ::geteuid() == 0;
  if (root_user) {
    assert_int_equal(::mknod((root + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    assert_int_equal(::chmod((root + "/null").c_str(), 0666), 0);
    assert_int_equal(::chown((root + "/bin/empty-file").c_str(), 1234, 5678), 0);
  }
  setMtime(root + "/bin/tool", 1111111111);
  setMtime(root + "/bin/sh", 1222222222);
  setMtime(root + "/bin", 1333333333);

  std::vector<std::uint8_t> out;
  VectorSink sink(out);
  CpioWriter writer(sink);
  expectOk(writer.appendTree(root + "/", ""));
  expectOk(writer.appendTree(root, "/prefixed/"));
  expectOk(writer.finish());
  auto entries = parse(out);

  // Sorted, parents before children, and the root itself left out without a prefix.
  std::vector<std::string> expected = {"bin",           "bin/empty-file", "bin/sh", "bin/tool",
                                       "bin/tool-link", "dangling",       "empty",  "fifo"};
  if (root_user) expected.push_back("null");
  std::size_t index = 0;
  for (const auto& name : expected) {
    assert_string_equal(entries[index++].name.c_str(), name.c_str());
  }
  assert_string_equal(entries[index].name.c_str(), "prefixed");
  assert_int_equal(entries[index].mode, 040755);
  assert_true(contains(entries, "prefixed/bin/tool"));
  assert_int_equal(entries.size(), 2 * expected.size() + 1);

  const auto& bin = find(entries, "bin");
  assert_int_equal(bin.mode, 040711);
  assert_int_equal(bin.mtime, 1333333333);
  assert_int_equal(find(entries, "empty").mode, 040700);
  const auto& tool = find(entries, "bin/tool");
  assert_int_equal(tool.mode, 0104755);
  assert_int_equal(tool.mtime, 1111111111);
  assert_string_equal(tool.data.c_str(), "#!/bin/sh\necho \xff\n");
  assert_int_equal(tool.uid, ::geteuid());
  // A hard link: the same archive inode, a link count the kernel acts on, and no second copy.
  const auto& link = find(entries, "bin/tool-link");
  assert_int_equal(link.ino, tool.ino);
  assert_int_equal(tool.nlink, 2);
  assert_int_equal(link.nlink, 2);
  assert_true(link.data.empty());
  assert_int_not_equal(find(entries, "prefixed/bin/tool").ino, tool.ino);
  const auto& sh = find(entries, "bin/sh");
  assert_int_equal(sh.mode & S_IFMT, S_IFLNK);
  assert_string_equal(sh.data.c_str(), "tool");
  assert_int_equal(sh.mtime, 1222222222);
  assert_string_equal(find(entries, "dangling").data.c_str(), "/nowhere/../at/all");
  assert_int_equal(find(entries, "fifo").mode, 010620);
  const auto& emptyFile = find(entries, "bin/empty-file");
  assert_int_equal(emptyFile.mode, 0100600);
  assert_true(emptyFile.data.empty());
  if (root_user) {
    assert_int_equal(emptyFile.uid, 1234);
    assert_int_equal(emptyFile.gid, 5678);
    const auto& null = find(entries, "null");
    assert_int_equal(null.mode, 020666);
    assert_int_equal(null.rdevMajor, 1);
    assert_int_equal(null.rdevMinor, 3);
  }
  // Every inode but the hard links' is distinct; links stay within their tree.
  for (std::size_t i = 0; i < entries.size(); ++i) {
    for (std::size_t j = i + 1; j < entries.size(); ++j) {
      if (entries[i].ino == entries[j].ino) {
        assert_string_equal((entries[i].name + "-link").c_str(), entries[j].name.c_str());
      }
    }
  }
}

void append_tree_names_the_failing_path(void** state) {
  const std::string missing = tempDir(state) + "/missing";
  std::vector<std::uint8_t> out;
  VectorSink sink(out);
  CpioWriter writer(sink);
  auto status = writer.appendTree(missing, "");
  assert_false(status.ok());
  assert_non_null(std::strstr(status.error().message().c_str(), missing.c_str()));
  assert_int_equal(status.error().errnum(), ENOENT);
}

void append_tree_stops_at_mount_points(void** state) {
  if (::unshare(CLONE_NEWNS) != 0 ||
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    skip();  // needs root for a mount namespace of its own
  }
  const std::string root = tempDir(state) + "/root";
  assert_int_equal(::mkdir(root.c_str(), 0755), 0);
  assert_int_equal(::mkdir((root + "/mnt").c_str(), 0755), 0);
  assert_int_equal(::mount("tmpfs", (root + "/mnt").c_str(), "tmpfs", 0, "mode=0750"), 0);
  writeHostFile(root + "/mnt/host-file", "not for the guest", 0644);
  writeHostFile(root + "/kept", "", 0644);
  std::vector<std::uint8_t> out;
  VectorSink sink(out);
  CpioWriter writer(sink);
  expectOk(writer.appendTree(root, ""));
  expectOk(writer.finish());
  auto entries = parse(out);
  assert_int_equal(entries.size(), 2);
  assert_string_equal(entries[0].name.c_str(), "kept");
  assert_string_equal(entries[1].name.c_str(), "mnt");
  assert_int_equal(entries[1].mode, 040750);
}

void add_file_from_path_takes_given_attributes(void** state) {
  const std::string path = tempDir(state) + "/init";
  writeHostFile(path, "ELF", 0600);
  std::vector<std::uint8_t> out;
  VectorSink sink(out);
  CpioWriter writer(sink);
  expectOk(writer.addDirectory(".tandem", {.permissions = 0755}));
  expectOk(writer.addFileFromPath("/.tandem/init", path, {.permissions = 0755}));
  auto notRegular = writer.addFileFromPath("x", tempDir(state), {});
  assert_false(notRegular.ok());
  assert_non_null(std::strstr(notRegular.error().message().c_str(), "not a regular file"));
  expectOk(writer.finish());
  auto entries = parse(out);
  const auto& init = find(entries, ".tandem/init");
  assert_int_equal(init.mode, 0100755);
  assert_int_equal(init.uid, 0);
  assert_string_equal(init.data.c_str(), "ELF");
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(file_header_is_exact),
      cmocka_unit_test(directory_header_is_exact),
      cmocka_unit_test(symlink_header_is_exact),
      cmocka_unit_test(device_headers_are_exact),
      cmocka_unit_test(every_entry_is_aligned),
      cmocka_unit_test(trailer_ends_the_archive),
      cmocka_unit_test(refuses_names_that_would_not_round_trip),
      cmocka_unit_test(fd_sink_matches_vector_sink),
      cmocka_unit_test_setup_teardown(append_tree_round_trips, makeTempDir,
                                      unmountAndRemoveTempDir),
      cmocka_unit_test_setup_teardown(append_tree_names_the_failing_path, makeTempDir,
                                      unmountAndRemoveTempDir),
      cmocka_unit_test_setup_teardown(append_tree_stops_at_mount_points, makeTempDir,
                                      unmountAndRemoveTempDir),
      cmocka_unit_test_setup_teardown(add_file_from_path_takes_given_attributes, makeTempDir,
                                      unmountAndRemoveTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

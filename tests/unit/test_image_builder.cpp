#include <archive.h>
#include <archive_entry.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/file.h"
#include "common/image/image_builder.h"
#include "common/image/image_import.h"
#include "common/image/image_rootfs.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using namespace tandem;
using namespace tandem::image;
namespace fs = std::filesystem;

namespace {

void check(const Status& status) {
  if (!status.ok()) {
    fail_msg("%s", status.error().describe().c_str());
  }
}

// A tree with one of everything a layer keeps: nested folders, odd modes, an empty file, a
// symlink, two names of one inode.
std::string makeSource(const std::string& dir) {
  std::string root = dir + "/source";
  check(makeDirectories(root + "/etc/conf.d"));
  check(makeDirectories(root + "/bin"));
  check(makeDirectories(root + "/empty"));
  check(writeFile(root + "/etc/hostname", "builder\n"));
  check(writeFile(root + "/etc/conf.d/b", "b\n", 0600));
  check(writeFile(root + "/etc/conf.d/a", ""));
  check(writeFile(root + "/bin/tool", std::string(200000, 't'), 0755));
  assert_int_equal(::chmod((root + "/bin/tool").c_str(), 04755), 0);
  assert_int_equal(::chmod((root + "/empty").c_str(), 0700), 0);
  assert_int_equal(::symlink("tool", (root + "/bin/alias").c_str()), 0);
  assert_int_equal(::link((root + "/bin/tool").c_str(), (root + "/bin/tool2").c_str()), 0);
  return root;
}

BuiltImage build(const std::vector<std::string>& folders, const std::string& output,
                 LayoutFormat format = LayoutFormat::kFolder) {
  ImageBuildSpec spec;
  spec.layerFolders = folders;
  spec.tag = *parseReference("localhost/test/built:1");
  spec.defaults.cmd = {"sh"};
  auto built = buildImage(spec, output, format);
  if (!built.ok()) {
    fail_msg("%s", built.error().describe().c_str());
  }
  return *built;
}

std::string gunzip(const std::string& compressed) {
  z_stream stream{};
  assert_int_equal(::inflateInit2(&stream, 15 + 16), Z_OK);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buffer[65536];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof buffer;
    rc = ::inflate(&stream, Z_NO_FLUSH);
    assert_true(rc == Z_OK || rc == Z_STREAM_END);
    out.append(buffer, sizeof buffer - stream.avail_out);
  }
  ::inflateEnd(&stream);
  return out;
}

struct TarEntry {
  mode_t type = 0;
  std::map<std::string, std::string> xattrs;
  std::string symlink;
  std::string hardlink;
};

std::map<std::string, TarEntry> tarEntries(const std::string& tar,
                                           std::vector<std::string>* order = nullptr) {
  std::map<std::string, TarEntry> entries;
  archive* reader = archive_read_new();
  archive_read_support_format_tar(reader);
  assert_int_equal(archive_read_open_memory(reader, tar.data(), tar.size()), ARCHIVE_OK);
  archive_entry* entry = nullptr;
  while (archive_read_next_header(reader, &entry) == ARCHIVE_OK) {
    TarEntry seen;
    seen.type = archive_entry_filetype(entry);
    if (const char* target = archive_entry_symlink(entry)) {
      seen.symlink = target;
    }
    if (const char* target = archive_entry_hardlink(entry)) {
      seen.hardlink = target;
    }
    archive_entry_xattr_reset(entry);
    const char* name = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
      seen.xattrs[name] = std::string(static_cast<const char*>(value), size);
    }
    entries[archive_entry_pathname(entry)] = seen;
    if (order != nullptr) {
      order->push_back(archive_entry_pathname(entry));
    }
  }
  archive_read_free(reader);
  return entries;
}

std::string blobText(const std::string& layout, const Digest& digest) {
  auto text = readFile(layout + "/blobs/sha256/" + digest.hex());
  assert_true(text.ok());
  return *text;
}

// What a tree holds, in a form two trees can be compared by: per relative name, the type and
// mode, the symlink target or the content, and which names share an inode.
std::map<std::string, std::string> describeTree(const std::string& root) {
  std::map<std::string, std::string> out;
  std::map<ino_t, std::string> firstName;
  for (const auto& item : fs::recursive_directory_iterator(root)) {
    std::string path = item.path().string();
    std::string name = path.substr(root.size() + 1);
    struct stat st {};
    assert_int_equal(::lstat(path.c_str(), &st), 0);
    std::string text = std::to_string(st.st_mode);
    if (S_ISLNK(st.st_mode)) {
      text += " -> " + fs::read_symlink(item.path()).string();
    } else if (S_ISREG(st.st_mode)) {
      auto content = readFile(path);
      assert_true(content.ok());
      text += " " + Digest::ofText(*content).text();
      if (st.st_nlink > 1) {
        auto [it, first] = firstName.try_emplace(st.st_ino, name);
        text += " inode of " + it->second;
      }
    }
    out[name] = text;
  }
  return out;
}

}  // namespace

static void the_same_folder_gives_the_same_digests(void** state) {
  std::string source = makeSource(tempDir(state));
  BuiltImage first = build({source}, tempDir(state) + "/one");
  // Newer mtimes than the epoch are clamped, so touching the tree changes nothing.
  check(writeFile(source + "/etc/hostname", "builder\n"));
  BuiltImage second = build({source}, tempDir(state) + "/two");
  assert_true(first.manifest.digest == second.manifest.digest);
  assert_true(first.layers[0].digest == second.layers[0].digest);
  assert_true(first.diffIds[0] == second.diffIds[0]);

  build({source}, tempDir(state) + "/one.tar", LayoutFormat::kTar);
  build({source}, tempDir(state) + "/two.tar", LayoutFormat::kTar);
  auto a = readFile(tempDir(state) + "/one.tar");
  auto b = readFile(tempDir(state) + "/two.tar");
  assert_true(a.ok() && b.ok() && *a == *b);
}

static void the_diff_id_is_the_digest_of_the_gunzipped_layer(void** state) {
  std::string source = makeSource(tempDir(state));
  std::string layout = tempDir(state) + "/layout";
  BuiltImage built = build({source, source}, layout);
  assert_int_equal(built.layers.size(), 2);
  std::string blob = blobText(layout, built.layers[0].digest);
  assert_true(Digest::ofText(blob) == built.layers[0].digest);
  assert_int_equal(blob.size(), built.layers[0].size);
  // gzip header: no mtime (bytes 4-7) and no file name (FNAME, flag bit 3).
  assert_int_equal(blob[3] & 0x08, 0);
  assert_int_equal(blob[4] | blob[5] | blob[6] | blob[7], 0);
  std::string tar = gunzip(blob);
  assert_true(Digest::ofText(tar) == built.diffIds[0]);

  auto config = parseImageConfig(blobText(layout, built.config));
  assert_true(config.ok());
  assert_int_equal(config->diffIds.size(), 2);
  assert_true(config->diffIds[0] == built.diffIds[0]);
  assert_string_equal(config->created.c_str(), "1970-01-01T00:00:00Z");

  // Sorted, a directory before what it holds, the second name of an inode as a hardlink.
  std::vector<std::string> order;
  auto entries = tarEntries(tar, &order);
  std::vector<std::string> want = {"bin/",         "bin/alias",   "bin/tool",    "bin/tool2",
                                   "empty/",       "etc/",        "etc/conf.d/", "etc/conf.d/a",
                                   "etc/conf.d/b", "etc/hostname"};
  assert_int_equal(order.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    assert_string_equal(order[i].c_str(), want[i].c_str());
  }
  assert_true(entries.count("bin/tool2") == 1);
  assert_string_equal(entries["bin/tool2"].hardlink.c_str(), "bin/tool");
  assert_string_equal(entries["bin/alias"].symlink.c_str(), "tool");
}

static void an_image_round_trips_through_the_store(void** state) {
  std::string source = makeSource(tempDir(state));
  std::string archive = tempDir(state) + "/image.tar";
  build({source}, archive, LayoutFormat::kTar);

  auto blobs = BlobStore::create(tempDir(state) + "/store");
  assert_true(blobs.ok());
  auto index = ImageIndex::open(tempDir(state) + "/store");
  assert_true(index.ok());
  auto imported = importImageArchive(archive, *blobs, *index, {});
  if (!imported.ok()) {
    fail_msg("%s", imported.error().describe().c_str());
  }
  auto found = index->findByReference(*parseReference("localhost/test/built:1"));
  assert_true(found.ok() && found->has_value());
  std::string unpacked = tempDir(state) + "/unpacked";
  check(unpackImage(imported->front(), *blobs, unpacked));

  auto want = describeTree(source);
  auto got = describeTree(unpacked);
  for (const auto& [name, text] : want) {
    auto it = got.find(name);
    if (it == got.end() || it->second != text) {
      fail_msg("%s: want \"%s\", got \"%s\"", name.c_str(), text.c_str(),
               it == got.end() ? "nothing" : it->second.c_str());
    }
  }
  assert_int_equal(want.size(), got.size());
}

static void symlinks_out_of_the_folder_are_never_followed(void** state) {
  std::string outside = tempDir(state) + "/outside";
  check(makeDirectories(outside));
  check(writeFile(outside + "/secret", "do not pack me"));
  std::string source = tempDir(state) + "/hostile";
  check(makeDirectories(source));
  assert_int_equal(::symlink(outside.c_str(), (source + "/escape").c_str()), 0);
  assert_int_equal(::symlink("../outside/secret", (source + "/secret").c_str()), 0);
  assert_int_equal(::symlink("/", (source + "/root").c_str()), 0);
  // A socket cannot be stored; it is skipped rather than failing the build.
  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string socketPath = source + "/control.sock";
  assert_true(socketPath.size() < sizeof address.sun_path);
  std::memcpy(address.sun_path, socketPath.c_str(), socketPath.size());
  assert_int_equal(::bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ::close(sock);

  std::string layout = tempDir(state) + "/layout";
  BuiltImage built = build({source}, layout);
  std::string tar = gunzip(blobText(layout, built.layers[0].digest));
  auto entries = tarEntries(tar);
  assert_int_equal(entries.size(), 3);
  assert_int_equal(entries["escape"].type, AE_IFLNK);
  assert_string_equal(entries["escape"].symlink.c_str(), outside.c_str());
  assert_int_equal(entries["secret"].type, AE_IFLNK);
  assert_int_equal(entries["root"].type, AE_IFLNK);
  assert_true(tar.find("do not pack me") == std::string::npos);
}

static void xattrs_are_kept(void** state) {
  std::string source = tempDir(state) + "/source";
  check(makeDirectories(source));
  check(writeFile(source + "/file", "x"));
  if (::lsetxattr((source + "/file").c_str(), "user.tandem.b", "2", 1, 0) != 0 ||
      ::lsetxattr((source + "/file").c_str(), "user.tandem.a", "1", 1, 0) != 0) {
    skip();  // the temporary folder's filesystem has no user xattrs
  }
  std::string layout = tempDir(state) + "/layout";
  BuiltImage built = build({source}, layout);
  auto entries = tarEntries(gunzip(blobText(layout, built.layers[0].digest)));
  assert_string_equal(entries["file"].xattrs["user.tandem.a"].c_str(), "1");
  assert_string_equal(entries["file"].xattrs["user.tandem.b"].c_str(), "2");
}

static void a_missing_folder_names_itself(void** state) {
  ImageBuildSpec spec;
  spec.layerFolders = {tempDir(state) + "/nowhere"};
  auto built = buildImage(spec, tempDir(state) + "/out", LayoutFormat::kFolder);
  assert_false(built.ok());
  assert_true(built.error().message().find("nowhere") != std::string::npos);
  // Nothing is left beside the output.
  assert_true(fs::directory_iterator(tempDir(state)) == fs::directory_iterator());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(the_same_folder_gives_the_same_digests, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(the_diff_id_is_the_digest_of_the_gunzipped_layer, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(an_image_round_trips_through_the_store, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(symlinks_out_of_the_folder_are_never_followed, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(xattrs_are_kept, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(a_missing_folder_names_itself, makeTempDir, removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

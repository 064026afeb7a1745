// The layer unpacker against layers built here with libarchive's writer: every entry type and its
// metadata, the compressions images use, whiteouts in both modes, and a corpus of hostile layers
// that must be refused or contained without anything changing outside the root.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "common/file.h"
#include "common/image/layer_paths.h"
#include "common/image/layer_unpack.h"
#include "common/unique_fd.h"
#include "tests/unit/unit_test.h"

using tandem::Result;
using tandem::UniqueFd;
using tandem::image::classifyWhiteout;
using tandem::image::cleanEntryPath;
using tandem::image::LayerUnpackOptions;
using tandem::image::LayerUnpackStats;
using tandem::image::unpackLayer;
using tandem::image::WhiteoutKind;
using tandem::image::WhiteoutMode;

namespace {

constexpr time_t kMtime = 1'600'000'000;
constexpr const char* kLayerName = "sha256:test-layer";
constexpr const char* kSecret = "the host's own data";

enum class Kind { File, Dir, Symlink, Hardlink, CharDevice, Fifo };

struct TarEntry {
  std::string path;
  Kind kind = Kind::File;
  std::string content;
  mode_t mode = 0644;
  std::string linkTarget;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
  time_t mtime = kMtime;
  unsigned rdevMajor = 0;
  unsigned rdevMinor = 0;
};

TarEntry file(std::string path, std::string content, mode_t mode = 0644) {
  return {.path = std::move(path), .content = std::move(content), .mode = mode};
}
TarEntry dir(std::string path, mode_t mode = 0755) {
  return {.path = std::move(path), .kind = Kind::Dir, .mode = mode};
}
TarEntry symlink(std::string path, std::string target) {
  return {.path = std::move(path), .kind = Kind::Symlink, .mode = 0777, .linkTarget = target};
}
TarEntry hardlink(std::string path, std::string target) {
  return {.path = std::move(path), .kind = Kind::Hardlink, .linkTarget = target};
}
TarEntry marker(std::string path) {
  return file(std::move(path), "");
}

enum class Compression { None, Gzip, Zstd, Xz };

void archiveOk(int rc, archive* writer, const char* what) {
  if (rc != ARCHIVE_OK) {
    fail_msg("%s: %s", what, archive_error_string(writer));
  }
}

// A layer blob in a memfd, rewound, as the store would hand it over.
UniqueFd buildLayer(const std::vector<TarEntry>& entries,
                    Compression compression = Compression::None) {
  UniqueFd fd(::memfd_create("layer", MFD_CLOEXEC));
  assert_true(fd.valid());
  archive* writer = archive_write_new();
  archiveOk(archive_write_set_format_pax_restricted(writer), writer, "format");
  switch (compression) {
    case Compression::None:
      archiveOk(archive_write_add_filter_none(writer), writer, "none");
      break;
    case Compression::Gzip:
      archiveOk(archive_write_add_filter_gzip(writer), writer, "gzip");
      break;
    case Compression::Zstd:
      archiveOk(archive_write_add_filter_zstd(writer), writer, "zstd");
      break;
    case Compression::Xz:
      archiveOk(archive_write_add_filter_xz(writer), writer, "xz");
      break;
  }
  archiveOk(archive_write_open_fd(writer, fd.get()), writer, "open");
  for (const auto& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.path.c_str());
    archive_entry_set_perm(entry, e.mode);
    archive_entry_set_uid(entry, e.uid);
    archive_entry_set_gid(entry, e.gid);
    archive_entry_set_mtime(entry, e.mtime, 0);
    archive_entry_set_size(entry, 0);
    switch (e.kind) {
      case Kind::File:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_size(entry, static_cast<la_int64_t>(e.content.size()));
        break;
      case Kind::Dir:
        archive_entry_set_filetype(entry, AE_IFDIR);
        break;
      case Kind::Symlink:
        archive_entry_set_filetype(entry, AE_IFLNK);
        archive_entry_set_symlink(entry, e.linkTarget.c_str());
        break;
      case Kind::Hardlink:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_hardlink(entry, e.linkTarget.c_str());
        break;
      case Kind::CharDevice:
        archive_entry_set_filetype(entry, AE_IFCHR);
        archive_entry_set_rdevmajor(entry, e.rdevMajor);
        archive_entry_set_rdevminor(entry, e.rdevMinor);
        break;
      case Kind::Fifo:
        archive_entry_set_filetype(entry, AE_IFIFO);
        break;
    }
    for (const auto& [name, value] : e.xattrs) {
      archive_entry_xattr_add_entry(entry, name.c_str(), value.data(), value.size());
    }
    archiveOk(archive_write_header(writer, entry), writer, e.path.c_str());
    if (e.kind == Kind::File && !e.content.empty()) {
      assert_int_equal(archive_write_data(writer, e.content.data(), e.content.size()),
                       e.content.size());
    }
    archive_entry_free(entry);
  }
  archiveOk(archive_write_close(writer), writer, "close");
  archive_write_free(writer);
  assert_int_equal(::lseek(fd.get(), 0, SEEK_SET), 0);
  return fd;
}

// Content that no compressor shrinks, so that a cut in the stream lands inside the data.
std::string noise(std::size_t size) {
  std::string text(size, '\0');
  std::uint32_t state = 2463534242u;
  for (auto& c : text) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    c = static_cast<char>(state);
  }
  return text;
}

// A temp folder holding the root under test and, beside it, what hostile layers aim at.
struct Scratch {
  std::string dir;
  std::string root;     // dir/root
  std::string outside;  // dir/outside, holding "secret"
  UniqueFd rootFd;
};

int makeScratch(void** state) {
  char templ[] = "/tmp/tandem-unpack-XXXXXX";
  if (::mkdtemp(templ) == nullptr) {
    return -1;
  }
  auto* s = new Scratch{templ, std::string(templ) + "/root", std::string(templ) + "/outside", {}};
  if (::mkdir(s->root.c_str(), 0755) != 0 || ::mkdir(s->outside.c_str(), 0755) != 0 ||
      !tandem::writeFile(s->outside + "/secret", kSecret).ok()) {
    return -1;
  }
  s->rootFd = UniqueFd(::open(s->root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  *state = s;
  return s->rootFd.valid() ? 0 : -1;
}

int removeScratch(void** state) {
  auto* s = static_cast<Scratch*>(*state);
  int rc = tandem::removeTree(s->dir).ok() ? 0 : -1;
  delete s;
  return rc;
}

Scratch& scratchOf(void** state) {
  return *static_cast<Scratch*>(*state);
}

Result<LayerUnpackStats> unpack(Scratch& s, const std::vector<TarEntry>& entries,
                                LayerUnpackOptions options = {},
                                Compression compression = Compression::None) {
  UniqueFd layer = buildLayer(entries, compression);
  return unpackLayer(layer.get(), kLayerName, s.rootFd.get(), s.root, options);
}

LayerUnpackStats expectOk(Result<LayerUnpackStats> result) {
  if (!result.ok()) {
    fail_msg("%s", result.error().describe().c_str());
  }
  return *result;
}

// Refusals must say which layer and which entry, and why.
void expectError(const Result<LayerUnpackStats>& result, const std::vector<std::string>& parts) {
  if (result.ok()) {
    fail_msg("the layer was accepted; expected an error mentioning %s", parts.front().c_str());
  }
  std::string text = result.error().describe();
  for (const auto& part : parts) {
    if (text.find(part) == std::string::npos) {
      fail_msg("error \"%s\" does not mention \"%s\"", text.c_str(), part.c_str());
    }
  }
  if (text.find(kLayerName) == std::string::npos) {
    fail_msg("error \"%s\" does not name the layer", text.c_str());
  }
}

std::set<std::string> namesIn(const std::string& path) {
  std::set<std::string> names;
  DIR* dir = ::opendir(path.c_str());
  assert_non_null(dir);
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") {
      names.insert(name);
    }
  }
  ::closedir(dir);
  return names;
}

// Nothing beside the root may appear or change, whatever a layer does.
void expectOutsideUntouched(const Scratch& s) {
  assert_true((namesIn(s.dir) == std::set<std::string>{"root", "outside"}));
  assert_true((namesIn(s.outside) == std::set<std::string>{"secret"}));
  struct stat st {};
  assert_int_equal(::lstat((s.outside + "/secret").c_str(), &st), 0);
  assert_true(S_ISREG(st.st_mode));
  assert_int_equal(st.st_nlink, 1);
  assert_string_equal(tandem::readFile(s.outside + "/secret")->c_str(), kSecret);
  assert_false(tandem::pathExists("/tmp-escape-file"));
  assert_false(tandem::pathExists("/escape"));
}

std::string contentOf(const std::string& path) {
  auto content = tandem::readFile(path);
  if (!content.ok()) {
    fail_msg("%s", content.error().describe().c_str());
  }
  return *content;
}

struct stat lstatOf(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    fail_msg("%s does not exist", path.c_str());
  }
  return st;
}

bool isRoot() {
  return ::geteuid() == 0;
}

// --- names -------------------------------------------------------------------------------------

void clean_entry_paths(void**) {
  struct Case {
    const char* raw;
    const char* cleaned;  // nullptr: refused
  };
  const Case cases[] = {
      {"usr/bin/env", "usr/bin/env"},
      {"./usr/bin/env", "usr/bin/env"},
      {"././etc/", "etc"},
      {"etc/", "etc"},
      {"./", ""},
      {".", ""},
      {"..a/b..", "..a/b.."},
      {"", nullptr},
      {"/etc/passwd", nullptr},
      {"../escape", nullptr},
      {"a/../../escape", nullptr},
      {"a/./b", nullptr},
      {"a//b", nullptr},
      {"a//", nullptr},
      {"./../x", nullptr},
      {"..", nullptr},
  };
  for (const auto& c : cases) {
    auto cleaned = cleanEntryPath(c.raw);
    if (c.cleaned == nullptr) {
      if (cleaned.ok()) {
        fail_msg("\"%s\" was accepted as \"%s\"", c.raw, cleaned->c_str());
      }
    } else if (!cleaned.ok() || *cleaned != c.cleaned) {
      fail_msg("\"%s\" should clean to \"%s\"", c.raw, c.cleaned);
    }
  }
  assert_false(cleanEntryPath(std::string_view("a\0b", 3)).ok());
}

void classify_whiteouts(void**) {
  auto remove = classifyWhiteout("a/b/.wh.c");
  assert_true(remove.ok() && remove->kind == WhiteoutKind::Remove && remove->target == "a/b/c");
  auto top = classifyWhiteout(".wh.c");
  assert_true(top.ok() && top->kind == WhiteoutKind::Remove && top->target == "c");
  auto opaque = classifyWhiteout("a/.wh..wh..opq");
  assert_true(opaque.ok() && opaque->kind == WhiteoutKind::Opaque && opaque->target == "a");
  auto rootOpaque = classifyWhiteout(".wh..wh..opq");
  assert_true(rootOpaque.ok() && rootOpaque->kind == WhiteoutKind::Opaque &&
              rootOpaque->target.empty());
  auto aufs = classifyWhiteout(".wh..wh.plnk/123.456");
  assert_true(aufs.ok() && aufs->kind == WhiteoutKind::AufsMetadata);
  auto plain = classifyWhiteout("a/b.wh.c");
  assert_true(plain.ok() && plain->kind == WhiteoutKind::None);
  for (const char* bad : {".wh.", "a/.wh..", "a/.wh...", "a/.wh.b/c", ".wh..wh..opq/x"}) {
    if (classifyWhiteout(bad).ok()) {
      fail_msg("whiteout \"%s\" was accepted", bad);
    }
  }
}

// --- entry types and metadata ------------------------------------------------------------------

void unpacks_every_entry_type_with_its_metadata(void** state) {
  if (!isRoot()) {
    skip();  // ownership and device nodes
  }
  auto& s = scratchOf(state);
  TarEntry hostname = file("./etc/hostname", "box\n", 0640);
  hostname.uid = 1000;
  hostname.gid = 1001;
  hostname.mtime = kMtime + 7;
  TarEntry su = file("bin/su", "#!su", 04755);
  su.uid = 0;
  TarEntry tagged = file("etc/tagged", "x");
  tagged.xattrs = {{"user.origin", "layer"}};
  TarEntry null{.path = "dev/null", .kind = Kind::CharDevice, .mode = 0666};
  null.rdevMajor = 1;
  null.rdevMinor = 3;
  TarEntry fifo{.path = "run/fifo", .kind = Kind::Fifo, .mode = 0620};
  TarEntry readOnly = dir("ro", 0555);
  auto stats = expectOk(
      unpack(s,
             {dir("./"), dir("etc", 0710), hostname, tagged, su, file("bin/busybox", "BB", 0755),
              symlink("bin/sh", "busybox"), hardlink("bin/ls", "./bin/busybox"), dir("tmp", 01777),
              null, fifo, readOnly, file("ro/inner", "in")},
             {.preserveOwnership = true}));
  assert_int_equal(stats.entries, 13);
  assert_int_equal(stats.bytesWritten, 4 + 1 + 4 + 2 + 2);
  assert_int_equal(stats.whiteouts, 0);

  const std::string& r = s.root;
  assert_string_equal(contentOf(r + "/etc/hostname").c_str(), "box\n");
  struct stat st = lstatOf(r + "/etc/hostname");
  assert_int_equal(st.st_mode & 07777, 0640);
  assert_int_equal(st.st_uid, 1000);
  assert_int_equal(st.st_gid, 1001);
  assert_int_equal(st.st_mtim.tv_sec, kMtime + 7);
  // A directory's mtime is the layer's, though entries were written into it afterwards.
  st = lstatOf(r + "/etc");
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(st.st_mode & 07777, 0710);
  assert_int_equal(st.st_mtim.tv_sec, kMtime);
  assert_int_equal(lstatOf(r + "/bin/su").st_mode & 07777, 04755);
  assert_int_equal(lstatOf(r + "/tmp").st_mode & 07777, 01777);
  assert_int_equal(lstatOf(r + "/bin").st_mode & 07777, 0755);  // made for bin/su, never listed
  assert_int_equal(lstatOf(r + "/ro").st_mode & 07777, 0555);
  assert_string_equal(contentOf(r + "/ro/inner").c_str(), "in");

  char value[16] = {};
  assert_int_equal(::getxattr((r + "/etc/tagged").c_str(), "user.origin", value, sizeof value), 5);
  assert_string_equal(value, "layer");

  char link[16] = {};
  assert_int_equal(::readlink((r + "/bin/sh").c_str(), link, sizeof link), 7);
  assert_string_equal(link, "busybox");
  assert_true(S_ISLNK(lstatOf(r + "/bin/sh").st_mode));
  assert_int_equal(lstatOf(r + "/bin/sh").st_mtim.tv_sec, kMtime);
  assert_int_equal(lstatOf(r + "/bin/ls").st_ino, lstatOf(r + "/bin/busybox").st_ino);
  assert_int_equal(lstatOf(r + "/bin/busybox").st_nlink, 2);

  st = lstatOf(r + "/dev/null");
  assert_true(S_ISCHR(st.st_mode));
  assert_int_equal(st.st_rdev, makedev(1, 3));
  assert_int_equal(st.st_mode & 07777, 0666);
  st = lstatOf(r + "/run/fifo");
  assert_true(S_ISFIFO(st.st_mode));
  assert_int_equal(st.st_mode & 07777, 0620);
  expectOutsideUntouched(s);
}

void reads_every_compression(void** state) {
  auto& s = scratchOf(state);
  std::string big = noise(300 * 1024);
  for (auto compression :
       {Compression::None, Compression::Gzip, Compression::Zstd, Compression::Xz}) {
    auto name = "c" + std::to_string(static_cast<int>(compression));
    auto stats = expectOk(unpack(
        s, {dir(name), file(name + "/big", big), file(name + "/small", "s")}, {}, compression));
    assert_int_equal(stats.bytesWritten, big.size() + 1);
    assert_true(contentOf(s.root + "/" + name + "/big") == big);
    assert_string_equal(contentOf(s.root + "/" + name + "/small").c_str(), "s");
  }
}

void rootless_unpack_refuses_device_nodes_unless_told(void** state) {
  auto& s = scratchOf(state);
  TarEntry owned = file("owned", "o");
  owned.uid = 1234;
  TarEntry null{.path = "dev/null", .kind = Kind::CharDevice, .mode = 0666};
  null.rdevMajor = 1;
  null.rdevMinor = 3;
  TarEntry fifo{.path = "run/fifo", .kind = Kind::Fifo};
  expectError(unpack(s, {owned, null}), {"\"dev/null\"", "device node"});
  assert_false(tandem::pathExists(s.root + "/dev/null"));

  auto stats = expectOk(unpack(s, {owned, null, fifo}, {.skipDeviceNodes = true}));
  assert_int_equal(stats.skippedDeviceNodes, 1);
  assert_false(tandem::pathExists(s.root + "/dev/null"));
  assert_true(S_ISFIFO(lstatOf(s.root + "/run/fifo").st_mode));
  assert_int_equal(lstatOf(s.root + "/owned").st_uid, ::geteuid());
}

void replaces_what_earlier_layers_left(void** state) {
  auto& s = scratchOf(state);
  expectOk(unpack(s, {dir("a"), file("a/child", "c"), file("f", "file"), dir("d", 0700),
                      file("d/keep", "k"), symlink("l", "f")}));
  expectOk(unpack(
      s, {file("a", "now a file"), dir("f"), file("f/inside", "i"), dir("d", 0750), dir("l")}));
  assert_string_equal(contentOf(s.root + "/a").c_str(), "now a file");
  assert_string_equal(contentOf(s.root + "/f/inside").c_str(), "i");
  assert_string_equal(contentOf(s.root + "/d/keep").c_str(), "k");
  assert_int_equal(lstatOf(s.root + "/d").st_mode & 07777, 0750);
  assert_true(S_ISDIR(lstatOf(s.root + "/l").st_mode));
  assert_true(S_ISREG(lstatOf(s.root + "/f/inside").st_mode));
}

void hardlinks_reach_earlier_layers_but_not_later_entries(void** state) {
  auto& s = scratchOf(state);
  expectOk(unpack(s, {file("lib/libc.so", "libc")}));
  expectOk(unpack(s, {hardlink("lib/libc.so.6", "lib/libc.so")}));
  assert_int_equal(lstatOf(s.root + "/lib/libc.so.6").st_ino,
                   lstatOf(s.root + "/lib/libc.so").st_ino);
  expectError(unpack(s, {hardlink("early", "late"), file("late", "l")}),
              {"\"early\"", "\"late\"", "not in this layer before it"});
  expectError(unpack(s, {hardlink("dirlink", "lib")}), {"\"dirlink\"", "is a directory"});
  expectError(unpack(s, {hardlink("self", "self")}), {"\"self\"", "itself"});
}

// --- whiteouts ---------------------------------------------------------------------------------

void apply_mode_whiteouts_remove_lower_entries(void** state) {
  auto& s = scratchOf(state);
  expectOk(unpack(s, {dir("a"), file("a/file", "f"), dir("a/dir"), file("a/dir/x", "x"),
                      file("b", "b"), file("c", "c")}));
  auto stats = expectOk(unpack(s, {marker("a/.wh.file"), marker("a/.wh.dir"), marker(".wh.b"),
                                   marker(".wh.nothing"), marker("missing/.wh.x")}));
  assert_int_equal(stats.whiteouts, 5);
  assert_true(namesIn(s.root + "/a").empty());
  assert_true((namesIn(s.root) == std::set<std::string>{"a", "c"}));
}

void apply_mode_whiteouts_spare_the_same_layer(void** state) {
  auto& s = scratchOf(state);
  expectOk(unpack(s, {file("x", "old"), dir("y"), file("y/z", "old")}));
  // The whiteout after the entry it names, and before it: either way only the old goes.
  expectOk(unpack(s, {file("x", "new"), marker(".wh.x"), marker(".wh.y"), file("y", "new")}));
  assert_string_equal(contentOf(s.root + "/x").c_str(), "new");
  assert_string_equal(contentOf(s.root + "/y").c_str(), "new");
}

void apply_mode_opaque_marker_in_either_order(void** state) {
  auto& s = scratchOf(state);
  std::vector<TarEntry> lower = {dir("d"), file("d/old", "o"), dir("d/sub"), file("d/sub/old", "o"),
                                 file("keep/x", "x")};
  std::vector<TarEntry> markerFirst = {
      dir("d"),     marker("d/.wh..wh..opq"), file("d/new", "n"),
      dir("d/sub"), file("d/sub/new", "n"),   file("d/deep/new", "n")};
  std::vector<TarEntry> markerLast = {dir("d"),
                                      file("d/new", "n"),
                                      dir("d/sub"),
                                      file("d/sub/new", "n"),
                                      file("d/deep/new", "n"),
                                      marker("d/.wh..wh..opq")};
  for (const auto* upper : {&markerFirst, &markerLast}) {
    assert_true(tandem::removeTree(s.root + "/d").ok());
    expectOk(unpack(s, lower));
    auto stats = expectOk(unpack(s, *upper));
    assert_int_equal(stats.whiteouts, 1);
    assert_true((namesIn(s.root + "/d") == std::set<std::string>{"new", "sub", "deep"}));
    assert_true((namesIn(s.root + "/d/sub") == std::set<std::string>{"new"}));
    assert_true((namesIn(s.root + "/d/deep") == std::set<std::string>{"new"}));
    assert_string_equal(contentOf(s.root + "/keep/x").c_str(), "x");
  }
}

void overlay_mode_writes_whiteout_devices_and_opaque_xattrs(void** state) {
  if (!isRoot()) {
    skip();  // mknod of a whiteout and trusted.* xattrs
  }
  auto& s = scratchOf(state);
  LayerUnpackOptions overlay{.whiteouts = WhiteoutMode::Overlay, .preserveOwnership = true};
  auto stats = expectOk(unpack(s,
                               {marker(".wh.gone"), dir("d"), marker("d/.wh..wh..opq"),
                                file("d/new", "n"), marker("implied/.wh.x")},
                               overlay));
  assert_int_equal(stats.whiteouts, 3);
  for (const char* whiteout : {"/gone", "/implied/x"}) {
    struct stat st = lstatOf(s.root + whiteout);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(0, 0));
  }
  char value[4] = {};
  assert_int_equal(
      ::getxattr((s.root + "/d").c_str(), "trusted.overlay.opaque", value, sizeof value), 1);
  assert_string_equal(value, "y");
  assert_string_equal(contentOf(s.root + "/d/new").c_str(), "n");
  assert_true(S_ISDIR(lstatOf(s.root + "/implied").st_mode));
}

void overlay_xattrs_in_a_layer_are_refused(void** state) {
  auto& s = scratchOf(state);
  TarEntry forged = file("forged", "f");
  forged.xattrs = {{"trusted.overlay.opaque", "y"}};
  expectError(unpack(s, {forged}), {"\"forged\"", "trusted.overlay.opaque"});
}

void security_xattrs_the_kernel_refuses_are_skipped(void** state) {
  auto& s = scratchOf(state);
  TarEntry ping = file("ping", "p", 0755);
  ping.xattrs = {{"security.capability", "not a capability set"}, {"user.kept", "k"}};
  auto stats = expectOk(unpack(s, {ping}));
  assert_int_equal(stats.skippedXattrs, 1);
  char value[4] = {};
  assert_int_equal(::getxattr((s.root + "/ping").c_str(), "user.kept", value, sizeof value), 1);
  assert_int_equal(lstatOf(s.root + "/ping").st_mode & 07777, 0755);
}

// --- hostile layers ----------------------------------------------------------------------------

void names_that_climb_out_are_refused(void** state) {
  auto& s = scratchOf(state);
  for (const char* name : {"../escape", "/abs", "a/../../escape", "./../escape", "a//b", "a/./b",
                           ".wh..", ".wh...", "a/.wh.b/c"}) {
    // libarchive's writer adds a '/' to directory names, so only the start is compared.
    expectError(unpack(s, {file(name, "pwned")}), {std::string("\"") + name + "\""});
    expectError(unpack(s, {dir(name)}), {std::string("\"") + name});
  }
  assert_true(namesIn(s.root).empty());
  expectOutsideUntouched(s);
}

// A symlink is followed as the container would follow it, inside the root: the write through it
// is contained, not refused, as in docker and containerd.
void writes_through_escaping_symlinks_stay_inside(void** state) {
  auto& s = scratchOf(state);
  expectOk(
      unpack(s, {symlink("evil", "/"), file("evil/tmp-escape-file", "1"), symlink("up", "../../.."),
                 file("up/escape", "2"), symlink("host", s.outside), marker("evil/.wh.nothing")}));
  assert_string_equal(contentOf(s.root + "/tmp-escape-file").c_str(), "1");
  assert_string_equal(contentOf(s.root + "/escape").c_str(), "2");
  // A later layer, through the links the first one left.
  expectOk(unpack(s, {file("evil/later", "3"), file("up/up/later2", "4"), dir(s.outside.substr(1)),
                      file("host/secret", "5"), marker("up/.wh.escape")}));
  assert_string_equal(contentOf(s.root + "/later").c_str(), "3");
  assert_string_equal(contentOf(s.root + "/later2").c_str(), "4");  // "up" is the root itself
  assert_string_equal(contentOf(s.root + s.outside + "/secret").c_str(), "5");
  assert_false(tandem::pathExists(s.root + "/escape"));
  expectOutsideUntouched(s);
}

void parents_through_dangling_escaping_symlinks_are_refused(void** state) {
  auto& s = scratchOf(state);
  expectOk(unpack(s, {symlink("rel", "../outside"), symlink("abs", s.outside)}));
  expectError(unpack(s, {file("rel/secret", "pwned")}), {"\"rel/secret\"", "does not exist"});
  expectError(unpack(s, {file("abs/secret", "pwned")}), {"\"abs/secret\"", "does not exist"});
  // Whiteouts through them find nothing to remove.
  expectOk(unpack(s, {marker("rel/.wh.secret"), marker("abs/.wh..wh..opq")}));
  expectOutsideUntouched(s);
}

void a_symlink_in_the_way_is_replaced_not_followed(void** state) {
  auto& s = scratchOf(state);
  std::string secret = s.outside + "/secret";
  expectOk(unpack(
      s, {symlink("rel", "../outside/secret"), symlink("abs", secret), symlink("dir", s.outside),
          symlink("fifo", secret), symlink("hard", secret), file("target", "t")}));
  expectOk(unpack(s, {file("rel", "new"), file("abs", "new"), dir("dir"), file("dir/f", "f"),
                      TarEntry{.path = "fifo", .kind = Kind::Fifo}, hardlink("hard", "target")}));
  assert_string_equal(contentOf(s.root + "/rel").c_str(), "new");
  assert_string_equal(contentOf(s.root + "/abs").c_str(), "new");
  assert_true(S_ISDIR(lstatOf(s.root + "/dir").st_mode));
  assert_true(S_ISFIFO(lstatOf(s.root + "/fifo").st_mode));
  assert_int_equal(lstatOf(s.root + "/hard").st_ino, lstatOf(s.root + "/target").st_ino);
  // The same within one layer.
  expectOk(unpack(s, {symlink("same", secret), file("same", "new")}));
  assert_string_equal(contentOf(s.root + "/same").c_str(), "new");
  expectOutsideUntouched(s);
}

void hardlinks_out_of_the_root_are_refused(void** state) {
  auto& s = scratchOf(state);
  expectError(unpack(s, {hardlink("passwd", "../../etc/passwd")}),
              {"\"passwd\"", "../../etc/passwd"});
  expectError(unpack(s, {hardlink("passwd", "/etc/passwd")}), {"\"passwd\"", "absolute"});
  expectError(unpack(s, {symlink("esc", "../outside"), hardlink("h", "esc/secret")}),
              {"\"h\"", "esc/secret", "not in this layer before it"});
  expectError(unpack(s, {symlink("hostroot", "/"), hardlink("h", "hostroot/etc/passwd")}),
              {"\"h\"", "not in this layer before it"});
  // A hardlink to a symlink links the symlink itself, which still points where it did.
  expectOk(unpack(s, {symlink("sl", s.outside + "/secret"), hardlink("h2", "sl")}));
  assert_true(S_ISLNK(lstatOf(s.root + "/h2").st_mode));
  expectOutsideUntouched(s);
}

void a_truncated_gzip_layer_is_an_error(void** state) {
  auto& s = scratchOf(state);
  UniqueFd layer = buildLayer({file("big", noise(256 * 1024))}, Compression::Gzip);
  struct stat st {};
  assert_int_equal(::fstat(layer.get(), &st), 0);
  assert_int_equal(::ftruncate(layer.get(), st.st_size / 2), 0);
  auto result = unpackLayer(layer.get(), kLayerName, s.rootFd.get(), s.root, {});
  expectError(result, {"truncated or corrupt"});
  expectOutsideUntouched(s);
}

void a_file_shorter_than_its_header_is_an_error(void** state) {
  auto& s = scratchOf(state);
  UniqueFd layer = buildLayer({file("short", noise(10000))});
  assert_int_equal(::ftruncate(layer.get(), 512 + 1000), 0);  // one pax-less header, some data
  auto result = unpackLayer(layer.get(), kLayerName, s.rootFd.get(), s.root, {});
  expectError(result, {"\"short\"", "truncated or corrupt"});
}

void a_layer_that_is_not_a_tar_is_an_error(void** state) {
  auto& s = scratchOf(state);
  UniqueFd layer(::memfd_create("garbage", MFD_CLOEXEC));
  std::string garbage;
  for (int i = 0; i < 200; ++i) {
    garbage += "this is not a tar layer. ";
  }
  assert_true(tandem::writeAll(layer.get(), garbage, "memfd").ok());
  assert_int_equal(::lseek(layer.get(), 0, SEEK_SET), 0);
  auto result = unpackLayer(layer.get(), kLayerName, s.rootFd.get(), s.root, {});
  expectError(result, {"not a tar archive"});
  assert_true(namesIn(s.root).empty());
}

}  // namespace

int main() {
#define SCRATCH_TEST(name) cmocka_unit_test_setup_teardown(name, makeScratch, removeScratch)
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(clean_entry_paths),
      cmocka_unit_test(classify_whiteouts),
      SCRATCH_TEST(unpacks_every_entry_type_with_its_metadata),
      SCRATCH_TEST(reads_every_compression),
      SCRATCH_TEST(rootless_unpack_refuses_device_nodes_unless_told),
      SCRATCH_TEST(replaces_what_earlier_layers_left),
      SCRATCH_TEST(hardlinks_reach_earlier_layers_but_not_later_entries),
      SCRATCH_TEST(apply_mode_whiteouts_remove_lower_entries),
      SCRATCH_TEST(apply_mode_whiteouts_spare_the_same_layer),
      SCRATCH_TEST(apply_mode_opaque_marker_in_either_order),
      SCRATCH_TEST(overlay_mode_writes_whiteout_devices_and_opaque_xattrs),
      SCRATCH_TEST(overlay_xattrs_in_a_layer_are_refused),
      SCRATCH_TEST(security_xattrs_the_kernel_refuses_are_skipped),
      SCRATCH_TEST(names_that_climb_out_are_refused),
      SCRATCH_TEST(writes_through_escaping_symlinks_stay_inside),
      SCRATCH_TEST(parents_through_dangling_escaping_symlinks_are_refused),
      SCRATCH_TEST(a_symlink_in_the_way_is_replaced_not_followed),
      SCRATCH_TEST(hardlinks_out_of_the_root_are_refused),
      SCRATCH_TEST(a_truncated_gzip_layer_is_an_error),
      SCRATCH_TEST(a_file_shorter_than_its_header_is_an_error),
      SCRATCH_TEST(a_layer_that_is_not_a_tar_is_an_error),
  };
#undef SCRATCH_TEST
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

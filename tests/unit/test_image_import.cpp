#include <archive.h>
#include <archive_entry.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "common/file.h"
#include "common/image/image_import.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using namespace tandem;
using namespace tandem::image;

namespace {

struct TarFile {
  std::string name;
  std::string content;
  std::string symlinkTo;  // a symlink when set
};

// An uncompressed tar of `files`, written with libarchive as image tools write them.
std::string tarOf(const std::vector<TarFile>& files) {
  std::string out(1 << 20, '\0');
  std::size_t used = 0;
  archive* writer = archive_write_new();
  archive_write_set_format_pax_restricted(writer);
  archive_write_open_memory(writer, out.data(), out.size(), &used);
  for (const auto& file : files) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, file.name.c_str());
    archive_entry_set_perm(entry, 0644);
    if (!file.symlinkTo.empty()) {
      archive_entry_set_filetype(entry, AE_IFLNK);
      archive_entry_set_symlink(entry, file.symlinkTo.c_str());
    } else {
      archive_entry_set_filetype(entry, AE_IFREG);
      archive_entry_set_size(entry, static_cast<la_int64_t>(file.content.size()));
    }
    archive_write_header(writer, entry);
    if (file.symlinkTo.empty()) {
      archive_write_data(writer, file.content.data(), file.content.size());
    }
    archive_entry_free(entry);
  }
  archive_write_close(writer);
  archive_write_free(writer);
  out.resize(used);
  return out;
}

std::string descriptor(std::string_view mediaType, const std::string& bytes,
                       const std::string& extra = "") {
  return R"({"mediaType":")" + std::string(mediaType) + R"(","digest":")" +
         Digest::ofText(bytes).text() + R"(","size":)" + std::to_string(bytes.size()) + extra + "}";
}

struct Layout {
  std::vector<TarFile> files;
  Digest configDigest;
  Digest manifestDigest;
};

// A one-layer OCI image layout. `corrupt` changes the layer's bytes after its digest is taken.
Layout ociLayout(const std::string& refName, bool corrupt = false) {
  std::string layer = tarOf({{"hello.txt", "hello from the layer\n", ""}});
  std::string config =
      R"({"architecture":"amd64","os":"linux","config":{"Cmd":["cat","/hello.txt"]},
    "rootfs":{"type":"layers","diff_ids":[")" +
      Digest::ofText(layer).text() + R"("]}})";
  std::string manifest = R"({"schemaVersion":2,"mediaType":")" +
                         std::string(media_type::kOciManifest) + R"(","config":)" +
                         descriptor(media_type::kOciConfig, config) + R"(,"layers":[)" +
                         descriptor(media_type::kOciLayer, layer) + "]}";
  std::string index =
      R"({"schemaVersion":2,"manifests":[)" +
      descriptor(media_type::kOciManifest, manifest,
                 R"(,"annotations":{"org.opencontainers.image.ref.name":")" + refName + R"("})") +
      "]}";
  Layout out;
  out.configDigest = Digest::ofText(config);
  out.manifestDigest = Digest::ofText(manifest);
  std::string storedLayer = layer;
  if (corrupt) {
    storedLayer[storedLayer.size() / 2] ^= 1;
  }
  out.files = {
      {"oci-layout", R"({"imageLayoutVersion":"1.0.0"})", ""},
      {"index.json", index, ""},
      {"blobs/sha256/" + Digest::ofText(layer).hex(), storedLayer, ""},
      {"blobs/sha256/" + Digest::ofText(config).hex(), config, ""},
      {"blobs/sha256/" + Digest::ofText(manifest).hex(), manifest, ""},
  };
  return out;
}

void writeFolder(const std::string& root, const std::vector<TarFile>& files) {
  for (const auto& file : files) {
    std::string path = root + "/" + file.name;
    assert_true(makeDirectories(path.substr(0, path.rfind('/'))).ok());
    assert_true(writeFile(path, file.content).ok());
  }
}

struct Store {
  BlobStore blobs;
  ImageIndex index;
};

Store openStore(const std::string& dir) {
  auto blobs = BlobStore::create(dir + "/store");
  assert_true(blobs.ok());
  auto index = ImageIndex::open(dir + "/store");
  assert_true(index.ok());
  return {std::move(*blobs), std::move(*index)};
}

void assertErrorMentions(const Error& error, const char* text) {
  if (error.message().find(text) == std::string::npos) {
    fail_msg("error \"%s\" does not mention \"%s\"", error.describe().c_str(), text);
  }
}

std::size_t imageCount(ImageIndex& index) {
  auto images = index.listImages();
  assert_true(images.ok());
  return images->size();
}

}  // namespace

static void imports_an_oci_layout_folder(void** state) {
  auto layout = ociLayout("example.com/hello:1.0");
  writeFolder(tempDir(state) + "/layout", layout.files);
  auto store = openStore(tempDir(state));
  auto imported = importImageArchive(tempDir(state) + "/layout", store.blobs, store.index, {});
  if (!imported.ok()) {
    fail_msg("%s", imported.error().describe().c_str());
  }
  assert_int_equal(imported->size(), 1);
  const auto& image = imported->front();
  assert_true(image.id == layout.configDigest);
  assert_true(image.manifestDigest == layout.manifestDigest);
  assert_int_equal(image.layers.size(), 1);
  assert_true(store.blobs.has(image.layers[0].blob));
  auto ref = parseReference("example.com/hello:1.0");
  auto found = store.index.findByReference(*ref);
  assert_true(found.ok() && found->has_value());
}

static void imports_an_oci_layout_tar_with_an_extra_tag(void** state) {
  auto layout = ociLayout("1.0");  // a bare tag names no repository
  std::string archivePath = tempDir(state) + "/layout.tar";
  assert_true(writeFile(archivePath, tarOf(layout.files)).ok());
  auto store = openStore(tempDir(state));
  ImportOptions options;
  options.tags.push_back(*parseReference("mine/hello:2"));
  auto imported = importImageArchive(archivePath, store.blobs, store.index, options);
  if (!imported.ok()) {
    fail_msg("%s", imported.error().describe().c_str());
  }
  assert_int_equal(imported->front().tags.size(), 1);
  assert_string_equal(imported->front().tags[0].familiar().c_str(), "mine/hello:2");
  // The scratch copy of the archive is gone.
  auto ingest = std::filesystem::directory_iterator(tempDir(state) + "/store/ingest");
  assert_true(ingest == std::filesystem::directory_iterator());
}

static void imports_a_docker_save_archive(void** state) {
  std::string layer = tarOf({{"etc/motd", "saved by docker\n", ""}});
  std::string config = R"({"architecture":"amd64","os":"linux","config":{},
    "rootfs":{"type":"layers","diff_ids":[")" +
                       Digest::ofText(layer).text() + R"(",")" + Digest::ofText(layer).text() +
                       R"("]}})";
  // Old docker save links a repeated layer to its first copy.
  std::string manifest = R"([{"Config":"cfg.json","RepoTags":["busybox:saved"],
    "Layers":["aaa/layer.tar","bbb/layer.tar"]}])";
  std::string archivePath = tempDir(state) + "/saved.tar";
  assert_true(writeFile(archivePath, tarOf({{"manifest.json", manifest, ""},
                                            {"cfg.json", config, ""},
                                            {"aaa/layer.tar", layer, ""},
                                            {"bbb/layer.tar", "", "../aaa/layer.tar"}}))
                  .ok());
  auto store = openStore(tempDir(state));
  auto imported = importImageArchive(archivePath, store.blobs, store.index, {});
  if (!imported.ok()) {
    fail_msg("%s", imported.error().describe().c_str());
  }
  assert_int_equal(imported->front().layers.size(), 2);
  assert_true(imported->front().id == Digest::ofText(config));
  auto found = store.index.findByReference(*parseReference("busybox:saved"));
  assert_true(found.ok() && found->has_value());
}

static void a_corrupt_layer_registers_nothing(void** state) {
  auto layout = ociLayout("example.com/hello:1.0", /*corrupt=*/true);
  writeFolder(tempDir(state) + "/layout", layout.files);
  auto store = openStore(tempDir(state));
  auto imported = importImageArchive(tempDir(state) + "/layout", store.blobs, store.index, {});
  assert_false(imported.ok());
  assertErrorMentions(imported.error(), "digest");
  assert_int_equal(imageCount(store.index), 0);
}

static void a_missing_blob_registers_nothing(void** state) {
  auto layout = ociLayout("example.com/hello:1.0");
  layout.files.erase(layout.files.begin() + 2);  // the layer
  writeFolder(tempDir(state) + "/layout", layout.files);
  auto store = openStore(tempDir(state));
  auto imported = importImageArchive(tempDir(state) + "/layout", store.blobs, store.index, {});
  assert_false(imported.ok());
  assertErrorMentions(imported.error(), "blobs/sha256/");
  assert_int_equal(imageCount(store.index), 0);
}

static void names_cannot_leave_the_archive(void** state) {
  std::string secret = tempDir(state) + "/secret.json";
  assert_true(writeFile(secret, R"({"architecture":"amd64","os":"linux",
    "rootfs":{"type":"layers","diff_ids":[]}})")
                  .ok());
  writeFolder(tempDir(state) + "/saved",
              {{"manifest.json", R"([{"Config":"../secret.json","Layers":[]}])", ""}});
  auto store = openStore(tempDir(state));
  auto imported = importImageArchive(tempDir(state) + "/saved", store.blobs, store.index, {});
  assert_false(imported.ok());
  assertErrorMentions(imported.error(), "..");

  // A symlink inside the folder that points out of it is not followed either.
  assert_true(::symlink(secret.c_str(), (tempDir(state) + "/saved/cfg.json").c_str()) == 0);
  assert_true(
      writeFile(tempDir(state) + "/saved/manifest.json", R"([{"Config":"cfg.json","Layers":[]}])")
          .ok());
  imported = importImageArchive(tempDir(state) + "/saved", store.blobs, store.index, {});
  assert_false(imported.ok());
  assertErrorMentions(imported.error(), "outside");
  assert_int_equal(imageCount(store.index), 0);
}

static void garbage_is_not_an_image(void** state) {
  std::string path = tempDir(state) + "/garbage.tar";
  assert_true(writeFile(path, std::string(3000, 'x')).ok());
  auto store = openStore(tempDir(state));
  auto imported = importImageArchive(path, store.blobs, store.index, {});
  assert_false(imported.ok());
  assertErrorMentions(imported.error(), "garbage.tar");

  std::string truncated = tarOf(ociLayout("example.com/hello:1.0").files);
  truncated.resize(truncated.size() / 2);
  assert_true(writeFile(path, truncated).ok());
  imported = importImageArchive(path, store.blobs, store.index, {});
  assert_false(imported.ok());
  assert_int_equal(imageCount(store.index), 0);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(imports_an_oci_layout_folder, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(imports_an_oci_layout_tar_with_an_extra_tag, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(imports_a_docker_save_archive, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(a_corrupt_layer_registers_nothing, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_missing_blob_registers_nothing, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(names_cannot_leave_the_archive, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(garbage_is_not_an_image, makeTempDir, removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/file.h"
#include "common/image/image_builder.h"
#include "common/image/image_export.h"
#include "common/image/image_import.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using namespace tandem;
using namespace tandem::image;
namespace fs = std::filesystem;

namespace {

constexpr const char* kTag = "localhost/test/export:1";

void check(const Status& status) {
  if (!status.ok()) {
    fail_msg("%s", status.error().describe().c_str());
  }
}

template <class T>
T checked(Result<T> result) {
  if (!result.ok()) {
    fail_msg("%s", result.error().describe().c_str());
  }
  return std::move(result).value();
}

struct Store {
  BlobStore blobs;
  ImageIndex index;
};

Store openStore(const std::string& root) {
  return {checked(BlobStore::create(root)), checked(ImageIndex::open(root))};
}

// A two-layer image built by the builder and loaded into `store`, tagged kTag.
ImageRecord storedImage(const std::string& dir, Store& store) {
  check(makeDirectories(dir + "/base/etc"));
  check(writeFile(dir + "/base/etc/hostname", "export\n"));
  check(makeDirectories(dir + "/upper/srv"));
  check(writeFile(dir + "/upper/srv/message", "from the upper layer\n"));
  ImageBuildSpec spec;
  spec.layerFolders = {dir + "/base", dir + "/upper"};
  spec.tag = *parseReference(kTag);
  checked(buildImage(spec, dir + "/built.tar", LayoutFormat::kTar));
  auto imported = checked(importImageArchive(dir + "/built.tar", store.blobs, store.index, {}));
  assert_int_equal(imported.size(), 1);
  return imported.front();
}

bool isEmptyFolder(const std::string& path) {
  return fs::directory_iterator(path) == fs::directory_iterator();
}

void assertErrorMentions(const Error& error, const std::string& text) {
  if (error.message().find(text) == std::string::npos) {
    fail_msg("error \"%s\" does not mention \"%s\"", error.describe().c_str(), text.c_str());
  }
}

}  // namespace

static void the_layout_names_each_tag_and_lists_the_image_for_docker(void** state) {
  Store store = openStore(tempDir(state) + "/store");
  ImageRecord record = storedImage(tempDir(state), store);
  Reference second = *parseReference("busybox:exported");
  check(store.index.addTag(record.id, second));

  auto files = checked(exportImages({{record, {*parseReference(kTag), second}}}, store.blobs));
  assert_int_equal(files.index.manifests.size(), 2);
  std::vector<std::string> names = {parseReference(kTag)->text(), second.text()};
  for (std::size_t i = 0; i < names.size(); ++i) {
    const Descriptor& entry = files.index.manifests[i];
    assert_true(entry.digest == record.manifestDigest);
    assert_string_equal(entry.mediaType.c_str(), std::string(media_type::kOciManifest).c_str());
    assert_int_equal(entry.size, checked(store.blobs.size(record.manifestDigest)));
    assert_string_equal(entry.annotations.at(std::string(annotation::kRefName)).c_str(),
                        names[i].c_str());
    assert_string_equal(entry.annotations.at(std::string(annotation::kContainerdName)).c_str(),
                        names[i].c_str());
  }
  // The manifest, the config and both layers.
  assert_int_equal(files.blobs.size(), 4);

  assert_true(files.dockerManifest.has_value());
  auto docker = nlohmann::json::parse(*files.dockerManifest);
  assert_int_equal(docker.size(), 1);
  assert_string_equal(docker[0]["Config"].get<std::string>().c_str(),
                      ("blobs/sha256/" + record.id.hex()).c_str());
  assert_true(docker[0]["RepoTags"] ==
              nlohmann::json({"localhost/test/export:1", "busybox:exported"}));
  assert_int_equal(docker[0]["Layers"].size(), 2);
  for (std::size_t i = 0; i < record.layers.size(); ++i) {
    assert_string_equal(docker[0]["Layers"][i].get<std::string>().c_str(),
                        ("blobs/sha256/" + record.layers[i].blob.hex()).c_str());
  }

  // Untagged: one entry without a name, and no RepoTags.
  files = checked(exportImages({{record, {}}}, store.blobs));
  assert_int_equal(files.index.manifests.size(), 1);
  assert_true(files.index.manifests[0].annotations.empty());
  assert_int_equal(nlohmann::json::parse(*files.dockerManifest)[0]["RepoTags"].size(), 0);
}

static void a_saved_archive_loads_back_as_the_same_image(void** state) {
  Store store = openStore(tempDir(state) + "/store");
  ImageRecord record = storedImage(tempDir(state), store);
  auto files = checked(exportImages({{record, record.tags}}, store.blobs));

  for (bool folder : {false, true}) {
    std::string output = tempDir(state) + (folder ? "/saved" : "/saved.tar");
    check(folder ? writeLayoutFolder(files, output) : writeLayoutTar(files, output, 0));
    Store fresh = openStore(tempDir(state) + (folder ? "/fresh-folder" : "/fresh-tar"));
    auto loaded = checked(importImageArchive(output, fresh.blobs, fresh.index, {}));
    assert_int_equal(loaded.size(), 1);
    assert_true(loaded[0].id == record.id);
    assert_true(loaded[0].manifestDigest == record.manifestDigest);
    assert_int_equal(loaded[0].tags.size(), 1);
    assert_string_equal(loaded[0].tags[0].text().c_str(), parseReference(kTag)->text().c_str());
  }
  // The folder's blobs are the store's own files, not copies.
  struct stat info {};
  assert_int_equal(
      ::stat((tempDir(state) + "/saved/blobs/sha256/" + record.id.hex()).c_str(), &info), 0);
  assert_true(info.st_nlink > 1);

  // The same files give the same tar.
  check(writeLayoutTar(files, tempDir(state) + "/again.tar", 0));
  assert_true(checked(readFile(tempDir(state) + "/saved.tar")) ==
              checked(readFile(tempDir(state) + "/again.tar")));
}

static void a_missing_blob_leaves_nothing_behind(void** state) {
  Store store = openStore(tempDir(state) + "/store");
  ImageRecord record = storedImage(tempDir(state), store);
  check(store.blobs.remove(record.layers[1].blob));
  auto files = exportImages({{record, record.tags}}, store.blobs);
  assert_false(files.ok());
  assertErrorMentions(files.error(), record.layers[1].blob.text());
  assertErrorMentions(files.error(), "localhost/test/export:1");
  assertErrorMentions(files.error(), "pull or load");

  // A source that vanishes while the layout is written leaves no output and no scratch either.
  std::string out = tempDir(state) + "/out";
  check(makeDirectories(out));
  LayoutFiles broken;
  broken.index.mediaType = std::string(media_type::kOciIndex);
  broken.blobs.push_back({record.id, store.blobs.path(record.id)});
  broken.blobs.push_back({record.layers[1].blob, store.blobs.path(record.layers[1].blob)});
  assert_false(writeLayoutTar(broken, out + "/saved.tar", 0).ok());
  assert_false(writeLayoutFolder(broken, out + "/saved").ok());
  assert_true(isEmptyFolder(out));
}

static void the_folder_form_refuses_an_existing_path(void** state) {
  Store store = openStore(tempDir(state) + "/store");
  ImageRecord record = storedImage(tempDir(state), store);
  auto files = checked(exportImages({{record, record.tags}}, store.blobs));
  std::string out = tempDir(state) + "/out";
  check(makeDirectories(out + "/taken"));
  auto written = writeLayoutFolder(files, out + "/taken");
  assert_false(written.ok());
  assert_int_equal(written.error().errnum(), EEXIST);
  assert_true(isEmptyFolder(out + "/taken"));
  // Nothing beside it either.
  assert_int_equal(std::distance(fs::directory_iterator(out), fs::directory_iterator()), 1);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(the_layout_names_each_tag_and_lists_the_image_for_docker,
                                      makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(a_saved_archive_loads_back_as_the_same_image, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_missing_blob_leaves_nothing_behind, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(the_folder_form_refuses_an_existing_path, makeTempDir,
                                      removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

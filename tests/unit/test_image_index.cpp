// The image index over a scratch store: an image is registered whole or not at all, tags move
// between images, ids resolve by prefix, removal follows docker rmi, and garbage collection frees
// exactly what no image uses.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/file.h"
#include "common/image/blob_store.h"
#include "common/image/image_index.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using tandem::bytesOf;
using tandem::Status;
using tandem::image::BlobStore;
using tandem::image::chainIdsOf;
using tandem::image::Digest;
using tandem::image::GcOptions;
using tandem::image::ImageIndex;
using tandem::image::ImageRecord;
using tandem::image::ImageRegistration;
using tandem::image::parseReference;
using tandem::image::Reference;
using tandem::image::UnpackedLayer;

namespace {

void expectOk(const Status& status) {
  if (!status.ok()) {
    fail_msg("%s", status.error().describe().c_str());
  }
}

template <class T>
T valueOf(tandem::Result<T> result) {
  if (!result) {
    fail_msg("%s", result.error().describe().c_str());
  }
  return std::move(result).value();
}

void expectMentions(const tandem::Error& error, const std::string& text) {
  if (error.message().find(text) == std::string::npos) {
    fail_msg("\"%s\" does not mention \"%s\"", error.message().c_str(), text.c_str());
  }
}

std::string rootOf(void** state) {
  return tempDir(state) + "/root";
}

BlobStore storeIn(void** state) {
  return valueOf(BlobStore::create(rootOf(state)));
}

ImageIndex indexIn(void** state) {
  return valueOf(ImageIndex::open(rootOf(state)));
}

Reference referenceOf(const std::string& text) {
  return valueOf(parseReference(text));
}

Digest put(const BlobStore& store, const std::string& text) {
  return valueOf(store.ingestBytes(bytesOf(text)));
}

// An image whose blobs are all in the store; its layers are named by `layerNames`, so two images
// share a layer blob (and its diff id) by sharing a name.
ImageRegistration makeImage(const BlobStore& store, const std::string& name,
                            const std::vector<std::string>& layerNames,
                            const std::vector<std::string>& tags = {}) {
  ImageRegistration image{
      .config = put(store, "config of " + name),
      .manifest = put(store, "manifest of " + name),
  };
  for (const auto& layer : layerNames) {
    image.layers.push_back(put(store, "layer " + layer));
    image.diffIds.push_back(Digest::ofText("diff " + layer));
  }
  image.platform = "linux/amd64";
  for (const auto& tag : tags) {
    image.tags.push_back(referenceOf(tag));
  }
  return image;
}

std::int64_t countRows(void** state, const char* table) {
  sqlite3* db = nullptr;
  assert_int_equal(
      sqlite3_open_v2((rootOf(state) + "/index.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
      SQLITE_OK);
  std::string sql = std::string("SELECT COUNT(*) FROM ") + table;
  sqlite3_stmt* statement = nullptr;
  assert_int_equal(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr), SQLITE_OK);
  assert_int_equal(sqlite3_step(statement), SQLITE_ROW);
  std::int64_t count = sqlite3_column_int64(statement, 0);
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return count;
}

std::vector<std::string> tagTexts(const ImageRecord& image) {
  std::vector<std::string> texts;
  for (const auto& tag : image.tags) {
    texts.push_back(tag.familiar());
  }
  return texts;
}

void register_and_find(void** state) {
  BlobStore store = storeIn(state);
  ImageIndex index = indexIn(state);
  assert_string_equal(index.path().c_str(), (rootOf(state) + "/index.db").c_str());
  ImageRegistration image =
      makeImage(store, "busybox", {"base", "app"}, {"busybox:latest", "busybox:1.36"});
  image.index = put(store, "index of busybox");
  ImageRecord registered = valueOf(index.registerImage(image, store));
  assert_true(registered.id == image.config);
  assert_true(registered.createdAt > 0);
  assert_string_equal(registered.platform.c_str(), "linux/amd64");

  auto found = valueOf(index.findByReference(referenceOf("busybox")));
  assert_true(found.has_value());
  assert_true(found->id == image.config);
  assert_true(found->manifestDigest == image.manifest);
  assert_true(found->indexDigest == image.index);
  assert_true((tagTexts(*found) == std::vector<std::string>{"busybox:1.36", "busybox:latest"}));
  assert_int_equal(found->layers.size(), 2);
  assert_true(found->layers[0].blob == image.layers[0]);
  assert_true(found->layers[0].chainId == image.diffIds[0]);
  assert_true(found->layers[1].chainId ==
              Digest::ofText(image.diffIds[0].text() + " " + image.diffIds[1].text()));
  assert_int_equal(found->layers[1].size, std::string("layer app").size());
  std::uint64_t total = 0;
  for (const auto& blob : valueOf(store.listBlobs())) {
    total += blob.size;
  }
  assert_int_equal(found->size, total);
  assert_string_equal(index.layerFolder(found->layers[1].chainId).c_str(),
                      (rootOf(state) + "/layers/" + found->layers[1].chainId.hex()).c_str());

  // By digest: the platform manifest's, or the index's it was chosen from.
  auto byManifest = valueOf(index.findByReference(referenceOf("busybox@" + image.manifest.text())));
  assert_true(byManifest.has_value() && byManifest->id == image.config);
  auto byIndex = valueOf(index.findByReference(referenceOf("busybox@" + image.index->text())));
  assert_true(byIndex.has_value() && byIndex->id == image.config);

  assert_false(valueOf(index.findByReference(referenceOf("busybox:musl"))).has_value());
  assert_false(valueOf(index.findByReference(referenceOf("x@" + Digest::ofText("nope").text())))
                   .has_value());
  assert_int_equal(valueOf(index.listImages()).size(), 1);
}

void chain_ids_follow_the_image_spec(void**) {
  std::vector<Digest> diffIds = {Digest::ofText("a"), Digest::ofText("b"), Digest::ofText("c")};
  auto chain = chainIdsOf(diffIds);
  assert_int_equal(chain.size(), 3);
  assert_true(chain[0] == diffIds[0]);
  Digest second = Digest::ofText(diffIds[0].text() + " " + diffIds[1].text());
  assert_true(chain[1] == second);
  assert_true(chain[2] == Digest::ofText(second.text() + " " + diffIds[2].text()));
  assert_true(chainIdsOf({}).empty());
}

void missing_blob_refuses_the_whole_image(void** state) {
  BlobStore store = storeIn(state);
  ImageIndex index = indexIn(state);
  ImageRegistration image = makeImage(store, "half", {"one", "two", "three"}, {"half:1"});
  expectOk(store.remove(image.layers[1]));
  auto registered = index.registerImage(image, store);
  assert_false(registered.ok());
  expectMentions(registered.error(), "layer 2 blob " + image.layers[1].text());
  expectMentions(registered.error(), "run it again");
  assert_int_equal(valueOf(index.listImages()).size(), 0);
  assert_false(valueOf(index.findByReference(referenceOf("half:1"))).has_value());
  assert_int_equal(countRows(state, "images"), 0);
  assert_int_equal(countRows(state, "tags"), 0);
  assert_int_equal(countRows(state, "image_blobs"), 0);

  // Layers and diff ids that disagree are refused before anything is looked up.
  image.diffIds.pop_back();
  auto mismatched = index.registerImage(image, store);
  assert_false(mismatched.ok());
  expectMentions(mismatched.error(), "3 layers but 2 diff ids");

  ImageRegistration untagged = makeImage(store, "digest only", {"one"});
  untagged.tags.push_back(referenceOf("app@" + Digest::ofText("x").text()));
  auto noTag = index.registerImage(untagged, store);
  assert_false(noTag.ok());
  expectMentions(noTag.error(), "has no tag");
}

void tag_moves_to_the_newer_image(void** state) {
  BlobStore store = storeIn(state);
  ImageIndex index = indexIn(state);
  ImageRegistration first = makeImage(store, "first", {"a"}, {"app:1", "app:stable"});
  ImageRegistration second = makeImage(store, "second", {"b"}, {"app:1"});
  valueOf(index.registerImage(first, store));
  valueOf(index.registerImage(second, store));

  auto tagged = valueOf(index.findByReference(referenceOf("app:1")));
  assert_true(tagged.has_value() && tagged->id == second.config);
  auto old = valueOf(index.findById(first.config.text()));
  assert_true(old.has_value());
  assert_true((tagTexts(*old) == std::vector<std::string>{"app:stable"}));

  // Registering an image again keeps it once and adds the new tags.
  first.tags = {referenceOf("app:again")};
  valueOf(index.registerImage(first, store));
  auto images = valueOf(index.listImages());
  assert_int_equal(images.size(), 2);
  old = valueOf(index.findById(first.config.text()));
  assert_true((tagTexts(*old) == std::vector<std::string>{"app:again", "app:stable"}));
}

void add_tag_names_a_stored_image(void** state) {
  BlobStore store = storeIn(state);
  ImageIndex index = indexIn(state);
  ImageRegistration first = makeImage(store, "first", {"a"}, {"app:1"});
  ImageRegistration second = makeImage(store, "second", {"b"}, {"other:1"});
  valueOf(index.registerImage(first, store));
  valueOf(index.registerImage(second, store));

  assert_true(index.addTag(first.config, referenceOf("localhost:5000/app:2")).ok());
  auto tagged = valueOf(index.findByReference(referenceOf("localhost:5000/app:2")));
  assert_true(tagged.has_value() && tagged->id == first.config);

  // A tag another image holds moves, as registerImage moves it.
  assert_true(index.addTag(second.config, referenceOf("app:1")).ok());
  auto moved = valueOf(index.findByReference(referenceOf("app:1")));
  assert_true(moved.has_value() && moved->id == second.config);

  auto missing = index.addTag(Digest::ofText("no such image"), referenceOf("app:3"));
  assert_false(missing.ok());
  assert_int_equal(missing.error().errnum(), ENOENT);
  auto pinned = index.addTag(first.config, referenceOf("app@sha256:" + std::string(64, 'a')));
  assert_false(pinned.ok());
  expectMentions(pinned.error(), "names a digest");
}

void ids_resolve_by_prefix(void** state) {
  BlobStore store = storeIn(state);
  ImageIndex index = indexIn(state);
  // Registers images until two ids share their first hex digit: at most 17.
  std::vector<Digest> ids;
  Digest* clashA = nullptr;
  Digest* clashB = nullptr;
  for (int i = 0; clashA == nullptr; ++i) {
    ImageRegistration image = makeImage(store, "image " + std::to_string(i), {"l"});
    valueOf(index.registerImage(image, store));
    ids.push_back(image.config);
    for (std::size_t j = 0; j + 1 < ids.size(); ++j) {
      if (ids[j].hex()[0] == ids.back().hex()[0]) {
        clashA = &ids[j];
        clashB = &ids.back();
        break;
      }
    }
  }
  std::string shared = clashA->hex().substr(0, 1);
  auto ambiguous = index.findById(shared);
  assert_false(ambiguous.ok());
  expectMentions(ambiguous.error(), "ambiguous");
  expectMentions(ambiguous.error(), clashA->shortId());
  expectMentions(ambiguous.error(), clashB->shortId());

  auto whole = valueOf(index.findById(clashA->hex()));
  assert_true(whole.has_value() && whole->id == *clashA);
  auto prefixed = valueOf(index.findById("sha256:" + clashB->hex().substr(0, 12)));
  assert_true(prefixed.has_value() && prefixed->id == *clashB);
  assert_false(valueOf(index.findById(Digest::ofText("absent").hex().substr(0, 16))).has_value());

  assert_false(index.findById("").ok());
  assert_false(index.findById("xyz").ok());
  assert_false(index.findById(std::string(65, 'a')).ok());
  assert_false(index.findById(clashA->hex().substr(0, 6) + "A").ok());

  // What a user types: a full id, a tag, or an id prefix.
  ImageRegistration named = makeImage(store, "named", {"n"}, {"named:latest"});
  valueOf(index.registerImage(named, store));
  auto byTag = valueOf(index.find("named"));
  assert_true(byTag.has_value() && byTag->id == named.config);
  auto byShort = valueOf(index.find(named.config.hex().substr(0, 12)));
  assert_true(byShort.has_value() && byShort->id == named.config);
  auto byFull = valueOf(index.find(named.config.text()));
  assert_true(byFull.has_value() && byFull->id == named.config);
  assert_false(valueOf(index.find("unknown")).has_value());
  assert_false(index.find(shared).ok());
}

void remove_follows_docker_rmi(void** state) {
  BlobStore store = storeIn(state);
  ImageIndex index = indexIn(state);
  ImageRegistration twoRepos = makeImage(store, "two repos", {"a"}, {"a:1", "b:1"});
  ImageRegistration oneRepo = makeImage(store, "one repo", {"a"}, {"c:1", "c:2"});
  ImageRegistration plain = makeImage(store, "plain", {"a"}, {"d:1"});
  for (const auto* image : {&twoRepos, &oneRepo, &plain}) {
    valueOf(index.registerImage(*image, store));
  }

  Status refused = index.removeImage(twoRepos.config, false);
  assert_false(refused.ok());
  assert_int_equal(refused.error().errnum(), EBUSY);
  expectMentions(refused.error(), "a:1, b:1");
  assert_true(valueOf(index.findById(twoRepos.config.hex())).has_value());
  expectOk(index.removeImage(twoRepos.config, true));
  assert_false(valueOf(index.findById(twoRepos.config.hex())).has_value());
  assert_false(valueOf(index.findByReference(referenceOf("a:1"))).has_value());
  assert_false(valueOf(index.findByReference(referenceOf("b:1"))).has_value());

  // Tags in one repository do not make the id ambiguous.
  expectOk(index.removeImage(oneRepo.config, false));
  assert_false(valueOf(index.findByReference(referenceOf("c:2"))).has_value());

  Digest untagged = valueOf(index.untag(referenceOf("d:1")));
  assert_true(untagged == plain.config);
  auto stillThere = valueOf(index.findById(plain.config.hex()));
  assert_true(stillThere.has_value() && stillThere->tags.empty());
  auto again = index.untag(referenceOf("d:1"));
  assert_false(again.ok());
  assert_int_equal(again.error().errnum(), ENOENT);
  expectMentions(again.error(), "d:1");
  assert_false(index.untag(referenceOf("d@" + Digest::ofText("x").text())).ok());

  expectOk(index.removeImage(plain.config, false));
  Status gone = index.removeImage(plain.config, false);
  assert_false(gone.ok());
  assert_int_equal(gone.error().errnum(), ENOENT);
  assert_int_equal(countRows(state, "image_blobs"), 0);
  assert_int_equal(countRows(state, "tags"), 0);
}

void gc_frees_only_unreferenced_blobs(void** state) {
  BlobStore store = storeIn(state);
  ImageIndex index = indexIn(state);
  ImageRegistration kept = makeImage(store, "kept", {"base", "kept only"}, {"kept:1"});
  ImageRegistration dropped = makeImage(store, "dropped", {"base", "dropped only"}, {"drop:1"});
  valueOf(index.registerImage(kept, store));
  auto droppedRecord = valueOf(index.registerImage(dropped, store));
  Digest orphan = put(store, "an interrupted pull's layer");
  for (const auto& image : valueOf(index.listImages())) {
    for (const auto& layer : image.layers) {
      expectOk(index.recordUnpackedLayer(
          UnpackedLayer{layer.chainId, layer.diffId, layer.blob, 1234, 0}));
    }
  }
  auto unpacked = valueOf(index.findUnpackedLayer(droppedRecord.layers[1].chainId));
  assert_true(unpacked.has_value());
  assert_int_equal(unpacked->size, 1234);
  assert_true(unpacked->unpackedAt > 0);

  std::string partial = store.root() + "/ingest/" + Digest::ofText("gone").hex() + ".partial";
  expectOk(tandem::writeFile(partial, "12345", 0600));
  struct timespec old[2] = {};
  old[0].tv_sec = old[1].tv_sec = ::time(nullptr) - 3 * 24 * 3600;
  assert_int_equal(::utimensat(AT_FDCWD, partial.c_str(), old, 0), 0);

  expectOk(index.removeImage(dropped.config, false));

  // By default young blobs stay: a pull may be about to register them.
  auto cautious = valueOf(index.garbageCollect(store));
  assert_true(cautious.removedBlobs.empty());
  assert_int_equal(cautious.keptYoungBlobs, 4);
  assert_int_equal(cautious.partials.files, 1);
  assert_int_equal(cautious.freedBytes, 5);
  // Layer records have no such wait: one is only written for a registered image. The shared
  // base layer's folder stays; the dropped image's own goes.
  assert_int_equal(cautious.layerFoldersToRemove.size(), 1);
  assert_string_equal(cautious.layerFoldersToRemove[0].c_str(),
                      index.layerFolder(droppedRecord.layers[1].chainId).c_str());
  assert_false(valueOf(index.findUnpackedLayer(droppedRecord.layers[1].chainId)).has_value());
  assert_true(valueOf(index.findUnpackedLayer(droppedRecord.layers[0].chainId)).has_value());

  auto report = valueOf(index.garbageCollect(store, GcOptions{.blobMinAge = {}}));
  std::vector<Digest> expected = {dropped.config, dropped.manifest, dropped.layers[1], orphan};
  std::sort(expected.begin(), expected.end());
  assert_true(report.removedBlobs == expected);
  std::uint64_t freed =
      std::string("config of dropped").size() + std::string("manifest of dropped").size() +
      std::string("layer dropped only").size() + std::string("an interrupted pull's layer").size();
  assert_int_equal(report.freedBytes, freed);
  assert_int_equal(report.keptYoungBlobs, 0);
  for (const auto& digest : expected) {
    assert_false(store.has(digest));
  }
  for (const auto& digest : {kept.config, kept.manifest, kept.layers[0], kept.layers[1]}) {
    assert_true(store.has(digest));
  }
  assert_true(report.layerFoldersToRemove.empty());

  auto quiet = valueOf(index.garbageCollect(store, GcOptions{.blobMinAge = {}}));
  assert_true(quiet.removedBlobs.empty());
  assert_int_equal(quiet.freedBytes, 0);
  assert_true(quiet.layerFoldersToRemove.empty());
  auto found = valueOf(index.findByReference(referenceOf("kept:1")));
  assert_true(found.has_value());
}

void schema_is_versioned(void** state) {
  { ImageIndex first = indexIn(state); }
  { ImageIndex again = indexIn(state); }
  sqlite3* db = nullptr;
  assert_int_equal(sqlite3_open((rootOf(state) + "/index.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, nullptr),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(statement), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(statement, 0), tandem::image::kIndexSchemaVersion);
  sqlite3_finalize(statement);
  assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr),
                   SQLITE_OK);
  sqlite3_close(db);

  auto newer = ImageIndex::open(rootOf(state));
  assert_false(newer.ok());
  expectMentions(newer.error(), "schema version 99");
  expectMentions(newer.error(), "newer tandem");
}

// Processes registering at once wait for each other's write transaction instead of failing.
void concurrent_registrations_all_land(void** state) {
  constexpr int kProcesses = 4;
  { ImageIndex created = indexIn(state); }
  std::vector<pid_t> children;
  for (int i = 0; i < kProcesses; ++i) {
    pid_t child = ::fork();
    assert_true(child >= 0);
    if (child == 0) {
      // Each process its own connection: SQLite handles must never cross a fork.
      auto store = BlobStore::create(rootOf(state));
      auto index = ImageIndex::open(rootOf(state));
      if (!store || !index) {
        ::_exit(1);
      }
      for (int round = 0; round < 5; ++round) {
        std::string name = "p" + std::to_string(i) + "r" + std::to_string(round);
        ImageRegistration image{
            .config = *store->ingestBytes(bytesOf("config " + name)),
            .manifest = *store->ingestBytes(bytesOf("manifest " + name)),
        };
        image.platform = "linux/amd64";
        image.tags = {*parseReference("race:latest"), *parseReference("own:" + name)};
        if (!index->registerImage(image, *store)) {
          ::_exit(2);
        }
      }
      ::_exit(0);
    }
    children.push_back(child);
  }
  for (pid_t child : children) {
    int status = 0;
    assert_int_equal(::waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
  }
  ImageIndex index = indexIn(state);
  assert_int_equal(valueOf(index.listImages()).size(), kProcesses * 5);
  assert_true(valueOf(index.findByReference(referenceOf("race:latest"))).has_value());
  assert_int_equal(countRows(state, "tags"), kProcesses * 5 + 1);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(register_and_find, makeTempDir, removeTempDir),
      cmocka_unit_test(chain_ids_follow_the_image_spec),
      cmocka_unit_test_setup_teardown(missing_blob_refuses_the_whole_image, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(tag_moves_to_the_newer_image, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(add_tag_names_a_stored_image, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(ids_resolve_by_prefix, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(remove_follows_docker_rmi, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(gc_frees_only_unreferenced_blobs, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(schema_is_versioned, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(concurrent_registrations_all_land, makeTempDir,
                                      removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

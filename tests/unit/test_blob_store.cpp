// The content-addressed blob store on a scratch folder: a blob appears only whole and correct,
// a refused one leaves nothing behind, a resumable download keeps and continues its partial,
// and processes ingesting the same digest at once all succeed with one copy.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/file.h"
#include "common/image/blob_store.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using tandem::bytesOf;
using tandem::pathExists;
using tandem::readFile;
using tandem::Status;
using tandem::writeFile;
using tandem::image::BlobStore;
using tandem::image::BlobWriter;
using tandem::image::Digest;
using tandem::image::IngestMode;

namespace {

void expectOk(const Status& status) {
  if (!status.ok()) {
    fail_msg("%s", status.error().describe().c_str());
  }
}

void expectErrorMentions(const Status& status, const std::string& text) {
  assert_false(status.ok());
  if (status.error().message().find(text) == std::string::npos) {
    fail_msg("\"%s\" does not mention \"%s\"", status.error().message().c_str(), text.c_str());
  }
}

BlobStore storeIn(void** state) {
  auto store = BlobStore::create(tempDir(state) + "/store/");
  if (!store) {
    fail_msg("%s", store.error().describe().c_str());
  }
  return std::move(store).value();
}

BlobWriter begin(const BlobStore& store, const Digest& digest,
                 std::optional<std::uint64_t> size = std::nullopt,
                 IngestMode mode = IngestMode::kFromStart) {
  auto writer = store.beginIngest(digest, size, mode);
  if (!writer) {
    fail_msg("%s", writer.error().describe().c_str());
  }
  return std::move(writer).value();
}

std::string partialOf(const BlobStore& store, const Digest& digest) {
  return store.root() + "/ingest/" + digest.hex() + ".partial";
}

std::string content(const BlobStore& store, const Digest& digest) {
  auto fd = store.open(digest);
  if (!fd) {
    fail_msg("%s", fd.error().describe().c_str());
  }
  auto text = readFile(fd->get(), store.path(digest));
  if (!text) {
    fail_msg("%s", text.error().describe().c_str());
  }
  return *text;
}

// A blob big enough that its hashing and writing take a while, so concurrent writers overlap.
std::string bigBlob() {
  std::string text;
  for (int i = 0; text.size() < (1 << 20); ++i) {
    text += "line " + std::to_string(i) + "\n";
  }
  return text;
}

void ageFile(const std::string& path, std::int64_t secondsAgo) {
  struct timespec times[2] = {};
  times[0].tv_sec = times[1].tv_sec = ::time(nullptr) - secondsAgo;
  assert_int_equal(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

void ingest_and_commit_stores_the_blob(void** state) {
  BlobStore store = storeIn(state);
  Digest digest = Digest::ofText("hello, world");
  assert_false(store.has(digest));
  assert_string_equal(store.root().c_str(), (tempDir(state) + "/store").c_str());
  assert_string_equal(store.path(digest).c_str(),
                      (tempDir(state) + "/store/blobs/sha256/" + digest.hex()).c_str());
  {
    BlobWriter writer = begin(store, digest, 12);
    assert_false(writer.alreadyStored());
    assert_int_equal(writer.resumeOffset(), 0);
    expectOk(writer.write("hello, "));
    expectOk(writer.write("world"));
    assert_int_equal(writer.size(), 12);
    assert_true(pathExists(partialOf(store, digest)));
    expectOk(writer.commit());
  }
  assert_true(store.has(digest));
  assert_false(pathExists(partialOf(store, digest)));
  assert_string_equal(content(store, digest).c_str(), "hello, world");
  auto size = store.size(digest);
  assert_true(size.ok());
  assert_int_equal(*size, 12);
  struct stat info {};
  assert_int_equal(::stat(store.path(digest).c_str(), &info), 0);
  assert_int_equal(info.st_mode & 0777, 0444);
}

void wrong_digest_leaves_no_blob_and_no_partial(void** state) {
  BlobStore store = storeIn(state);
  Digest claimed = Digest::ofText("what the manifest says");
  Digest actual = Digest::ofText("what arrived");
  for (IngestMode mode : {IngestMode::kFromStart, IngestMode::kResumable}) {
    BlobWriter writer = begin(store, claimed, std::nullopt, mode);
    expectOk(writer.write("what arrived"));
    Status committed = writer.commit();
    expectErrorMentions(committed, "expected " + claimed.text());
    expectErrorMentions(committed, "got " + actual.text());
    assert_int_equal(committed.error().errnum(), EBADMSG);
    assert_false(store.has(claimed));
    assert_false(store.has(actual));
    assert_false(pathExists(partialOf(store, claimed)));
    expectErrorMentions(writer.commit(), "already ended");
  }
}

void size_mismatch_is_refused(void** state) {
  BlobStore store = storeIn(state);
  Digest digest = Digest::ofText("seven b");
  {
    BlobWriter writer = begin(store, digest, 10);
    expectOk(writer.write("seven b"));
    Status committed = writer.commit();
    expectErrorMentions(committed, "has 7 bytes where its descriptor gives 10");
    assert_false(store.has(digest));
    assert_false(pathExists(partialOf(store, digest)));
  }
  {
    // More than the descriptor says is refused before it reaches the disk.
    BlobWriter writer = begin(store, digest, 4, IngestMode::kResumable);
    expectOk(writer.write("sev"));
    Status written = writer.write("en b");
    expectErrorMentions(written, "past the 4 bytes");
    assert_int_equal(written.error().errnum(), EFBIG);
    assert_int_equal(writer.size(), 3);
    auto onDisk = readFile(partialOf(store, digest));
    assert_true(onDisk.ok());
    assert_string_equal(onDisk->c_str(), "sev");
  }
}

void resumable_download_keeps_and_continues_its_partial(void** state) {
  BlobStore store = storeIn(state);
  std::string text = bigBlob();
  Digest digest = Digest::ofText(text);
  std::size_t half = text.size() / 2;
  {
    BlobWriter writer = begin(store, digest, text.size(), IngestMode::kResumable);
    expectOk(writer.write(std::string_view(text).substr(0, half)));
    // The connection drops: the writer goes without commit().
  }
  assert_true(pathExists(partialOf(store, digest)));
  assert_false(store.has(digest));
  {
    BlobWriter writer = begin(store, digest, text.size(), IngestMode::kResumable);
    assert_int_equal(writer.resumeOffset(), half);
    assert_int_equal(writer.size(), half);
    // The download asks for "Range: bytes=<half>-" and gets the rest.
    expectOk(writer.write(std::string_view(text).substr(writer.resumeOffset())));
    expectOk(writer.commit());
  }
  assert_true(store.has(digest));
  assert_true(content(store, digest) == text);
  assert_false(pathExists(partialOf(store, digest)));
}

void abandoned_import_removes_its_partial(void** state) {
  BlobStore store = storeIn(state);
  Digest digest = Digest::ofText("0123456789");
  {
    BlobWriter writer = begin(store, digest, 10, IngestMode::kFromStart);
    expectOk(writer.write("01234"));
  }
  assert_false(pathExists(partialOf(store, digest)));

  // An import finding a download's partial starts from zero all the same.
  {
    BlobWriter writer = begin(store, digest, 10, IngestMode::kResumable);
    expectOk(writer.write("01234"));
  }
  BlobWriter writer = begin(store, digest, 10, IngestMode::kFromStart);
  assert_int_equal(writer.resumeOffset(), 0);
  assert_int_equal(writer.size(), 0);
  expectOk(writer.write("0123456789"));
  expectOk(writer.commit());
  assert_string_equal(content(store, digest).c_str(), "0123456789");
}

void restart_serves_a_server_that_ignores_range(void** state) {
  BlobStore store = storeIn(state);
  Digest digest = Digest::ofText("abcdef");
  {
    BlobWriter writer = begin(store, digest, 6, IngestMode::kResumable);
    expectOk(writer.write("abc"));
  }
  BlobWriter writer = begin(store, digest, 6, IngestMode::kResumable);
  assert_int_equal(writer.resumeOffset(), 3);
  // The server answered 200 with the whole body rather than 206.
  expectOk(writer.restart());
  assert_int_equal(writer.resumeOffset(), 0);
  expectOk(writer.write("abcdef"));
  expectOk(writer.commit());
  assert_string_equal(content(store, digest).c_str(), "abcdef");
}

void partial_longer_than_the_blob_is_discarded(void** state) {
  BlobStore store = storeIn(state);
  Digest digest = Digest::ofText("abc");
  expectOk(writeFile(partialOf(store, digest), "not a prefix at all", 0600));
  BlobWriter writer = begin(store, digest, 3, IngestMode::kResumable);
  assert_int_equal(writer.resumeOffset(), 0);
  expectOk(writer.write("abc"));
  expectOk(writer.commit());
}

void stored_blob_makes_commit_a_no_op(void** state) {
  BlobStore store = storeIn(state);
  auto digest = store.ingestBytes(bytesOf("once"));
  assert_true(digest.ok());
  assert_true(*digest == Digest::ofText("once"));
  BlobWriter writer = begin(store, *digest, 4, IngestMode::kResumable);
  assert_true(writer.alreadyStored());
  expectOk(writer.write("ignored"));
  expectOk(writer.commit());
  assert_false(pathExists(partialOf(store, *digest)));
  assert_string_equal(content(store, *digest).c_str(), "once");

  auto again = store.ingestBytes(bytesOf("once"), *digest);
  assert_true(again.ok());
  auto wrong = store.ingestBytes(bytesOf("twice"), *digest);
  assert_true(wrong.ok());  // stored already: nothing is written or checked
  auto refused = store.ingestBytes(bytesOf("twice"), Digest::ofText("thrice"));
  assert_false(refused.ok());
}

// A second process asking for a digest another is writing waits for the lock, then finds the
// blob stored and transfers nothing.
void second_process_waits_then_finds_the_blob(void** state) {
  BlobStore store = storeIn(state);
  std::string text = bigBlob();
  Digest digest = Digest::ofText(text);
  BlobWriter writer = begin(store, digest, text.size());
  expectOk(writer.write(std::string_view(text).substr(0, 1000)));

  int ready[2];
  assert_int_equal(::pipe(ready), 0);
  pid_t child = ::fork();
  assert_true(child >= 0);
  if (child == 0) {
    ::close(ready[0]);
    (void)!::write(ready[1], "r", 1);
    auto second = store.beginIngest(digest, text.size(), IngestMode::kResumable);
    ::_exit(!second ? 1 : !second->alreadyStored() ? 2 : 0);
  }
  ::close(ready[1]);
  char byte;
  assert_int_equal(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  ::usleep(100 * 1000);  // long enough for the child to block on the lock
  expectOk(writer.write(std::string_view(text).substr(1000)));
  expectOk(writer.commit());
  int status = 0;
  assert_int_equal(::waitpid(child, &status, 0), child);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_true(content(store, digest) == text);
}

void concurrent_ingests_of_one_digest_all_succeed(void** state) {
  BlobStore store = storeIn(state);
  std::string text = bigBlob();
  Digest digest = Digest::ofText(text);
  std::vector<pid_t> children;
  for (int i = 0; i < 4; ++i) {
    pid_t child = ::fork();
    assert_true(child >= 0);
    if (child == 0) {
      auto stored = store.ingestBytes(bytesOf(text), digest);
      ::_exit(stored.ok() ? 0 : 1);
    }
    children.push_back(child);
  }
  auto stored = store.ingestBytes(bytesOf(text), digest);
  assert_true(stored.ok());
  for (pid_t child : children) {
    int status = 0;
    assert_int_equal(::waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
  }
  assert_true(content(store, digest) == text);
  assert_false(pathExists(partialOf(store, digest)));
}

void remove_and_list(void** state) {
  BlobStore store = storeIn(state);
  std::vector<Digest> digests;
  for (const char* text : {"one", "two", "three"}) {
    auto digest = store.ingestBytes(bytesOf(text));
    assert_true(digest.ok());
    digests.push_back(*digest);
  }
  // Not a digest: skipped by the listing.
  expectOk(writeFile(store.root() + "/blobs/sha256/README", "x"));
  auto listed = store.listBlobs();
  assert_true(listed.ok());
  assert_int_equal(listed->size(), 3);
  for (std::size_t i = 1; i < listed->size(); ++i) {
    assert_true((*listed)[i - 1].digest < (*listed)[i].digest);
  }
  for (const auto& blob : *listed) {
    assert_true(blob.size == 3 || blob.size == 5);
    assert_true(blob.modifiedAt > 0);
  }
  expectOk(store.remove(digests[1]));
  assert_false(store.has(digests[1]));
  expectOk(store.remove(digests[1]));  // already gone
  listed = store.listBlobs();
  assert_true(listed.ok());
  assert_int_equal(listed->size(), 2);
}

void ingest_from_fd(void** state) {
  BlobStore store = storeIn(state);
  std::string source = tempDir(state) + "/layer.tar";
  std::string text = bigBlob();
  expectOk(writeFile(source, text));
  Digest digest = Digest::ofText(text);
  {
    auto fd = tandem::openPath(source, O_RDONLY);
    assert_true(fd.ok());
    expectOk(store.ingestFromFd(fd->get(), digest, text.size()));
  }
  assert_true(content(store, digest) == text);
  {
    auto fd = tandem::openPath(source, O_RDONLY);
    assert_true(fd.ok());
    Status refused = store.ingestFromFd(fd->get(), Digest::ofText("other"));
    expectErrorMentions(refused, "got " + digest.text());
  }
  assert_false(pathExists(partialOf(store, Digest::ofText("other"))));
}

void missing_blob_errors_name_the_path(void** state) {
  BlobStore store = storeIn(state);
  Digest digest = Digest::ofText("absent");
  auto fd = store.open(digest);
  assert_false(fd.ok());
  assert_int_equal(fd.error().errnum(), ENOENT);
  assert_non_null(std::strstr(fd.error().message().c_str(), store.path(digest).c_str()));
  auto size = store.size(digest);
  assert_false(size.ok());
  assert_int_equal(size.error().errnum(), ENOENT);
}

void stale_partials_go_unless_fresh_or_held(void** state) {
  BlobStore store = storeIn(state);
  Digest stale = Digest::ofText("stale");
  Digest fresh = Digest::ofText("fresh");
  Digest held = Digest::ofText("held");
  expectOk(writeFile(partialOf(store, stale), "stal", 0600));
  ageFile(partialOf(store, stale), 2 * 24 * 3600);
  expectOk(writeFile(partialOf(store, fresh), "fre", 0600));
  BlobWriter writer = begin(store, held, std::nullopt, IngestMode::kResumable);
  expectOk(writer.write("he"));
  ageFile(partialOf(store, held), 2 * 24 * 3600);

  auto sweep = store.removeStalePartials(std::chrono::hours(24));
  assert_true(sweep.ok());
  assert_int_equal(sweep->files, 1);
  assert_int_equal(sweep->bytes, 4);
  assert_false(pathExists(partialOf(store, stale)));
  assert_true(pathExists(partialOf(store, fresh)));
  assert_true(pathExists(partialOf(store, held)));
  expectOk(writer.write("ld"));
  expectOk(writer.commit());
  assert_true(store.has(held));
}

void store_needs_a_root(void**) {
  auto store = BlobStore::create("");
  assert_false(store.ok());
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(ingest_and_commit_stores_the_blob, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(wrong_digest_leaves_no_blob_and_no_partial, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(size_mismatch_is_refused, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(resumable_download_keeps_and_continues_its_partial,
                                      makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(abandoned_import_removes_its_partial, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(restart_serves_a_server_that_ignores_range, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(partial_longer_than_the_blob_is_discarded, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(stored_blob_makes_commit_a_no_op, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(second_process_waits_then_finds_the_blob, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(concurrent_ingests_of_one_digest_all_succeed, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(remove_and_list, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(ingest_from_fd, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(missing_blob_errors_name_the_path, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(stale_partials_go_unless_fresh_or_held, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test(store_needs_a_root),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

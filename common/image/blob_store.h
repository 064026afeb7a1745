// Content-addressed blobs (layers, configs, manifests) under <root>/blobs/sha256/<hex>, as an OCI
// image layout keeps them. A blob is written to <root>/ingest/<hex>.partial, checked against its
// digest and size, and renamed into place, so a blob that exists is always complete and correct.
// Several tandem processes may ingest at once: a flock on the partial file serialises writers of
// the same digest, and the second finds the blob already stored.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/image/digest.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem::image {

inline constexpr std::string_view kDefaultStoreRoot = "/var/lib/tandem";

// What an ingest does with a partial file from an earlier attempt, and with its own when it is
// destroyed without commit().
enum class IngestMode {
  // A registry download, which can ask for the rest with an HTTP Range request: an existing
  // partial is continued (resumeOffset() says from where), and an interrupted one is kept for
  // the next attempt. A partial nobody comes back for is removed by garbage collection.
  kResumable,
  // An import that holds its whole source (a tar archive, bytes in memory): it starts from
  // zero, and removes its partial if it gives up, leaving nothing behind.
  kFromStart,
};

struct BlobInfo {
  Digest digest;
  std::uint64_t size = 0;
  std::int64_t modifiedAt = 0;  // seconds since the epoch: when the blob was written
};

struct PartialSweep {
  std::size_t files = 0;
  std::uint64_t bytes = 0;
};

// Writes one blob. Created by BlobStore::beginIngest; holds the lock on its partial file until
// it is committed or destroyed. Write from one thread.
class BlobWriter {
 public:
  BlobWriter(BlobWriter&& other) noexcept;
  BlobWriter& operator=(BlobWriter&&) = delete;
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;
  // Without commit(), removes or keeps the partial file as the IngestMode says.
  ~BlobWriter();

  // The blob was in the store already (or another process finished it while this one waited):
  // there is nothing to transfer, write() drops its bytes and commit() succeeds at once.
  bool alreadyStored() const { return alreadyStored_; }
  // Bytes already in a resumed partial, hashed again when the writer was made; a download
  // continues with "Range: bytes=<resumeOffset>-". Always 0 in IngestMode::kFromStart.
  std::uint64_t resumeOffset() const { return resumeOffset_; }
  // Bytes the partial holds now.
  std::uint64_t size() const { return size_; }

  // Appends bytes. More than the expected size is refused before anything is written.
  Status write(std::span<const std::uint8_t> bytes);
  Status write(std::string_view bytes);
  // Empties the partial, for a server that answered a Range request with the whole blob.
  Status restart();
  // Makes the blob durable and visible: fsync, check the size and the digest, then rename into
  // blobs/. On a mismatch the partial is removed, whatever the mode, since resuming it could
  // never succeed, and the error names the expected and the actual digest or size.
  Status commit();

 private:
  friend class BlobStore;
  BlobWriter(Digest expected, std::optional<std::uint64_t> expectedSize, IngestMode mode,
             std::string partialPath, std::string blobPath);
  Status resume();
  void removePartial();
  void releaseLock();

  Digest expected_;
  std::optional<std::uint64_t> expectedSize_;
  IngestMode mode_;
  std::string partialPath_;
  std::string blobPath_;
  UniqueFd fd_;  // the partial file, flock()ed; invalid once done or when already stored
  Sha256 hash_;
  std::uint64_t size_ = 0;
  std::uint64_t resumeOffset_ = 0;
  bool alreadyStored_ = false;
  bool broken_ = false;  // a write failed part way: the partial no longer matches the hash
};

class BlobStore {
 public:
  // Opens the store under `root` (kDefaultStoreRoot in production), creating blobs/sha256 and
  // ingest/ if missing; folders it creates are 0700, since image content can hold secrets.
  static Result<BlobStore> create(std::string root);

  const std::string& root() const { return root_; }
  // <root>/blobs/sha256/<hex>, whether or not the blob is there.
  std::string path(const Digest& digest) const;
  bool has(const Digest& digest) const;
  // A read-only fd; a missing blob is an error with ENOENT naming the digest and the path.
  Result<UniqueFd> open(const Digest& digest) const;
  Result<std::uint64_t> size(const Digest& digest) const;

  // Waits while another writer, in this process or another, holds the same digest's partial:
  // never begin two ingests of one digest on one thread, the second would wait for itself.
  // `expectedSize` is the descriptor's size when the caller knows it.
  Result<BlobWriter> beginIngest(const Digest& expected,
                                 std::optional<std::uint64_t> expectedSize = std::nullopt,
                                 IngestMode mode = IngestMode::kFromStart) const;
  // Reads `fd` to its end into the blob. Reads nothing when the blob is stored already.
  Status ingestFromFd(int fd, const Digest& expected,
                      std::optional<std::uint64_t> expectedSize = std::nullopt) const;
  // Stores `bytes`, checked against `expected` when given; returns the blob's digest.
  Result<Digest> ingestBytes(std::span<const std::uint8_t> bytes,
                             std::optional<Digest> expected = std::nullopt) const;

  // Removing a blob that is not there succeeds: two collectors may race for the same one.
  Status remove(const Digest& digest) const;
  // Every blob, in digest order. Files whose name is not a digest are skipped.
  Result<std::vector<BlobInfo>> listBlobs() const;
  // Removes partial files untouched for `olderThan` that no writer holds: downloads that were
  // interrupted and never resumed.
  Result<PartialSweep> removeStalePartials(std::chrono::seconds olderThan) const;

 private:
  explicit BlobStore(std::string root) : root_(std::move(root)) {}
  std::string blobsDir() const { return root_ + "/blobs/sha256"; }
  std::string ingestDir() const { return root_ + "/ingest"; }

  std::string root_;
};

}  // namespace tandem::image

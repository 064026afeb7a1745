// The image index: which images the store holds, their tags, the blobs each one needs and the
// layer folders unpacked from them, in SQLite at <root>/index.db. Blobs themselves live in the
// BlobStore; an image is only registered once every blob it names is there, so a pull or an
// import that stops half way leaves no image behind, only blobs for garbage collection.
//
// Schema (version 1, in PRAGMA user_version):
//   images(id PRIMARY KEY, manifest_digest, created_at, size, platform)
//     id is the config blob's digest, "sha256:<hex>", as docker's image id is; created_at is
//     when the image was first registered (seconds since the epoch); size is the bytes of all
//     its blobs as stored, so compressed layers count compressed.
//   tags(name PRIMARY KEY, image_id -> images ON DELETE CASCADE)
//     name is the normalised reference, registry/repository:tag. A tag names one image; giving
//     it to another moves it.
//   image_blobs(image_id -> images ON DELETE CASCADE, kind, position, digest, size, diff_id,
//               chain_id; PRIMARY KEY (image_id, kind, position))
//     kind is index, manifest, config or layer; position orders the layers from the base up
//     (the same blob may appear twice, as empty layers often do); diff_id and chain_id are set
//     for layers only.
//   layers(chain_id PRIMARY KEY, diff_id, blob_digest, size, unpacked_at)
//     one row per layer folder unpacked under <root>/layers/<chain id hex>, recorded by the
//     unpacker once the folder is complete.
//
// Several tandem processes may use the index at once: reads see a snapshot (WAL), and writes
// take the write lock up front (BEGIN IMMEDIATE), waiting up to the busy timeout for another.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/image/blob_store.h"
#include "common/image/digest.h"
#include "common/image/reference.h"
#include "common/result.h"
#include "common/sqlite_db.h"

namespace tandem::image {

inline constexpr int kIndexSchemaVersion = 1;
inline constexpr std::chrono::milliseconds kIndexBusyTimeout{10000};

// What a pull or an import hands the index once all of the image's blobs are in the store.
struct ImageRegistration {
  Digest config;                // its digest becomes the image id
  Digest manifest;              // the platform's image manifest
  std::optional<Digest> index;  // the image index (manifest list) it was chosen from, if any
  std::vector<Digest> layers;   // layer blobs as stored, base first
  std::vector<Digest> diffIds;  // the config's rootfs.diff_ids: one per layer, same order
  std::string platform;         // "linux/amd64", "linux/arm64/v8"
  // Tagged references to give the image; one with a digest as well is tagged by its tag.
  std::vector<Reference> tags;
};

struct ImageLayer {
  Digest blob;
  std::uint64_t size = 0;  // of the blob, as stored
  Digest diffId;
  Digest chainId;  // names the unpacked folder, <root>/layers/<hex>
};

struct ImageRecord {
  Digest id;
  Digest manifestDigest;
  std::optional<Digest> indexDigest;
  std::int64_t createdAt = 0;
  std::uint64_t size = 0;
  std::string platform;
  std::vector<Reference> tags;  // in text order
  std::vector<ImageLayer> layers;
};

struct UnpackedLayer {
  Digest chainId;
  Digest diffId;
  Digest blob;
  std::uint64_t size = 0;       // bytes unpacked
  std::int64_t unpackedAt = 0;  // 0 when recording means now
};

struct GcOptions {
  // An unreferenced blob younger than this is kept: a pull still running has stored it and
  // not yet registered its image.
  std::chrono::seconds blobMinAge = std::chrono::hours(1);
  // Partial downloads untouched for this long are given up.
  std::chrono::seconds partialMaxAge = std::chrono::hours(24);
};

struct GcReport {
  std::vector<Digest> removedBlobs;
  std::uint64_t freedBytes = 0;  // removed blobs and partial files
  std::size_t keptYoungBlobs = 0;
  PartialSweep partials;
  // Layer folders no image uses any more; their records are gone, and removing the folders is
  // the caller's (they may hold mounts the index knows nothing of).
  std::vector<std::string> layerFoldersToRemove;
};

// OCI image spec, config "Layer ChainID": ChainID(L0) = DiffID(L0), and
// ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
std::vector<Digest> chainIdsOf(std::span<const Digest> diffIds);

class ImageIndex {
 public:
  // Opens or creates <root>/index.db, creating its schema in one transaction. A database with
  // a newer schema than this tandem knows is refused rather than misread.
  static Result<ImageIndex> open(const std::string& root,
                                 std::chrono::milliseconds busyTimeout = kIndexBusyTimeout);

  const std::string& path() const { return db_.path(); }
  // <root>/layers/<chain id hex>
  std::string layerFolder(const Digest& chainId) const;

  // Registers an image, its blobs and its tags in one transaction, or nothing: a blob missing
  // from `store` refuses the whole image. Registering an image id again replaces its blob list
  // and adds the tags; a tag held by another image moves here.
  Result<ImageRecord> registerImage(const ImageRegistration& image, const BlobStore& store);

  // Lookups answer an empty optional for "no such image"; errors are failures.
  // A reference with a digest finds the image by its manifest or index digest; otherwise by tag.
  Result<std::optional<ImageRecord>> findByReference(const Reference& reference);
  // A docker-style id: full or a prefix of the hex digits, with or without "sha256:". A prefix
  // that matches more than one image is an error listing them.
  Result<std::optional<ImageRecord>> findById(std::string_view idOrPrefix);
  // What a user typed, in docker's order: a full id, a reference, then an id prefix.
  Result<std::optional<ImageRecord>> find(std::string_view text);
  // Newest first.
  Result<std::vector<ImageRecord>> listImages();

  // Gives a stored image the tag `reference` names (docker tag); a tag held by another image
  // moves here, as registerImage moves it.
  Status addTag(const Digest& id, const Reference& reference);
  // Removes one tag and answers the image it named; the image stays, untagged.
  Result<Digest> untag(const Reference& reference);
  // As `docker rmi <id>`: an image tagged in more than one repository is refused unless
  // `force`, since the id does not say which of them the user meant; otherwise the image goes
  // with all its tags. Its blobs stay until garbageCollect.
  Status removeImage(const Digest& id, bool force);

  // Records a layer folder the unpacker has completed; only for layers of registered images,
  // since garbage collection drops records no image uses.
  Status recordUnpackedLayer(const UnpackedLayer& layer);
  Result<std::optional<UnpackedLayer>> findUnpackedLayer(const Digest& chainId);

  // Removes blobs no image references, stale partial downloads, and the records of layer folders
  // no image uses, holding the write lock throughout so that no image is registered against a
  // blob being removed.
  Result<GcReport> garbageCollect(const BlobStore& store, const GcOptions& options = {});

 private:
  ImageIndex(std::string root, SqliteDb db) : root_(std::move(root)), db_(std::move(db)) {}
  Status migrate();
  // Reads without a transaction of its own, so callers can use it inside theirs.
  Result<std::optional<ImageRecord>> load(const std::string& id);
  Result<std::optional<ImageRecord>> loadFirst(SqliteStatement& ids);

  std::string root_;
  SqliteDb db_;
};

}  // namespace tandem::image

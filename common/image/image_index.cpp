#include "common/image/image_index.h"

#include <algorithm>
#include <ctime>
#include <set>

#include "common/file.h"

namespace tandem::image {

namespace {

constexpr std::string_view kDigestPrefix = "sha256:";

// Version 1. Foreign keys cascade from images so that removing an image takes its tags and
// blob list along in the same statement.
constexpr const char* kSchema = R"sql(
CREATE TABLE images (
  id TEXT PRIMARY KEY NOT NULL,
  manifest_digest TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  size INTEGER NOT NULL,
  platform TEXT NOT NULL
);
CREATE INDEX images_manifest ON images(manifest_digest);
CREATE TABLE tags (
  name TEXT PRIMARY KEY NOT NULL,
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE INDEX tags_image ON tags(image_id);
CREATE TABLE image_blobs (
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('index', 'manifest', 'config', 'layer')),
  position INTEGER NOT NULL,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  diff_id TEXT,
  chain_id TEXT,
  PRIMARY KEY (image_id, kind, position)
);
CREATE INDEX image_blobs_digest ON image_blobs(digest);
CREATE INDEX image_blobs_chain ON image_blobs(chain_id);
CREATE TABLE layers (
  chain_id TEXT PRIMARY KEY NOT NULL,
  diff_id TEXT NOT NULL,
  blob_digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  unpacked_at INTEGER NOT NULL
);
PRAGMA user_version = 1;
)sql";

bool isLowerHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string tagName(const Reference& reference) {
  return reference.name() + ":" + reference.tag;
}

std::int64_t asColumn(std::uint64_t value) {
  return static_cast<std::int64_t>(value);
}

// A column that must hold a digest; anything else means the database was edited by hand or
// damaged, which the message says.
Result<Digest> digestAt(const SqliteStatement& row, int column, const std::string& dbPath) {
  auto digest = Digest::parse(row.text(column));
  if (!digest) {
    return Error("the image index " + dbPath + " holds a malformed digest \"" + row.text(column) +
                 "\"; it was changed outside tandem");
  }
  return digest;
}

struct BlobRow {
  std::string_view kind;
  std::int64_t position;
  const Digest& digest;
  std::optional<std::string> diffId;
  std::optional<std::string> chainId;
};

}  // namespace

std::vector<Digest> chainIdsOf(std::span<const Digest> diffIds) {
  std::vector<Digest> chain;
  chain.reserve(diffIds.size());
  for (const auto& diffId : diffIds) {
    chain.push_back(chain.empty() ? diffId
                                  : Digest::ofText(chain.back().text() + " " + diffId.text()));
  }
  return chain;
}

Result<ImageIndex> ImageIndex::open(const std::string& root,
                                    std::chrono::milliseconds busyTimeout) {
  TANDEM_TRY(makeDirectories(root, 0700).context("cannot set up the image store"));
  TANDEM_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::open(root + "/index.db", busyTimeout));
  ImageIndex index(root, std::move(db));
  TANDEM_TRY(index.migrate());
  return index;
}

Status ImageIndex::migrate() {
  // Under the write lock, so two processes opening a new index create the schema once.
  TANDEM_ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::write(db_));
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement query, db_.prepare("PRAGMA user_version"));
  TANDEM_ASSIGN_OR_RETURN(bool row, query.step());
  std::int64_t version = row ? query.integer(0) : 0;
  query.reset();
  if (version > kIndexSchemaVersion) {
    return Error("the image index " + path() + " has schema version " + std::to_string(version) +
                 ", newer than this tandem understands (" + std::to_string(kIndexSchemaVersion) +
                 "); run a newer tandem, or move " + root_ + " aside to start an empty store");
  }
  if (version == 0) {
    TANDEM_TRY(db_.exec(kSchema));
  }
  return transaction.commit();
}

std::string ImageIndex::layerFolder(const Digest& chainId) const {
  return root_ + "/layers/" + chainId.hex();
}

Result<ImageRecord> ImageIndex::registerImage(const ImageRegistration& image,
                                              const BlobStore& store) {
  std::string id = image.config.text();
  auto refuse = [&](std::string_view why) {
    return Error("cannot register image " + id + ": " + std::string(why));
  };
  if (image.layers.size() != image.diffIds.size()) {
    return refuse("it has " + std::to_string(image.layers.size()) + " layers but " +
                  std::to_string(image.diffIds.size()) + " diff ids; the config does not " +
                  "describe the manifest's layers");
  }
  for (const auto& tag : image.tags) {
    if (tag.tag.empty()) {
      return refuse("\"" + tag.text() + "\" has no tag to give it");
    }
  }
  std::vector<Digest> chainIds = chainIdsOf(image.diffIds);

  std::vector<BlobRow> blobs;
  if (image.index) {
    blobs.push_back({"index", 0, *image.index, std::nullopt, std::nullopt});
  }
  blobs.push_back({"manifest", 0, image.manifest, std::nullopt, std::nullopt});
  blobs.push_back({"config", 0, image.config, std::nullopt, std::nullopt});
  for (std::size_t i = 0; i < image.layers.size(); ++i) {
    blobs.push_back({"layer", static_cast<std::int64_t>(i), image.layers[i],
                     image.diffIds[i].text(), chainIds[i].text()});
  }

  TANDEM_ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::write(db_));
  // Checked under the write lock: garbage collection takes the same lock, so a blob seen here
  // cannot be collected before this image references it.
  std::vector<std::uint64_t> sizes;
  std::uint64_t total = 0;
  for (const auto& blob : blobs) {
    auto size = store.size(blob.digest);
    if (!size) {
      std::string which = std::string(blob.kind);
      if (which == "layer") {
        which += " " + std::to_string(blob.position + 1);
      }
      return refuse("its " + which + " blob " + blob.digest.text() + " is not in the store (" +
                    store.path(blob.digest) + "); the pull or import did not finish, run it again");
    }
    sizes.push_back(*size);
    total += *size;
  }

  TANDEM_ASSIGN_OR_RETURN(SqliteStatement upsertImage, db_.prepare(R"sql(
    INSERT INTO images (id, manifest_digest, created_at, size, platform)
    VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (id) DO UPDATE SET manifest_digest = excluded.manifest_digest,
                                   size = excluded.size, platform = excluded.platform)sql"));
  TANDEM_TRY(upsertImage.bind(1, id)
                 .bind(2, image.manifest.text())
                 .bind(3, static_cast<std::int64_t>(std::time(nullptr)))
                 .bind(4, asColumn(total))
                 .bind(5, image.platform)
                 .run());

  TANDEM_ASSIGN_OR_RETURN(SqliteStatement clearBlobs,
                          db_.prepare("DELETE FROM image_blobs WHERE image_id = ?1"));
  TANDEM_TRY(clearBlobs.bind(1, id).run());
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement insertBlob, db_.prepare(R"sql(
    INSERT INTO image_blobs (image_id, kind, position, digest, size, diff_id, chain_id)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7))sql"));
  for (std::size_t i = 0; i < blobs.size(); ++i) {
    insertBlob.reset();
    TANDEM_TRY(insertBlob.bind(1, id)
                   .bind(2, blobs[i].kind)
                   .bind(3, blobs[i].position)
                   .bind(4, blobs[i].digest.text())
                   .bind(5, asColumn(sizes[i]))
                   .bindNullable(6, blobs[i].diffId)
                   .bindNullable(7, blobs[i].chainId)
                   .run());
  }

  TANDEM_ASSIGN_OR_RETURN(SqliteStatement upsertTag, db_.prepare(R"sql(
    INSERT INTO tags (name, image_id) VALUES (?1, ?2)
    ON CONFLICT (name) DO UPDATE SET image_id = excluded.image_id)sql"));
  for (const auto& tag : image.tags) {
    upsertTag.reset();
    TANDEM_TRY(upsertTag.bind(1, tagName(tag)).bind(2, id).run());
  }

  TANDEM_ASSIGN_OR_RETURN(auto record, load(id));
  TANDEM_TRY(transaction.commit());
  if (!record) {
    return refuse("it vanished from " + path() + " while being registered");
  }
  return std::move(*record);
}

Result<std::optional<ImageRecord>> ImageIndex::load(const std::string& id) {
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement image, db_.prepare(R"sql(
    SELECT manifest_digest, created_at, size, platform FROM images WHERE id = ?1)sql"));
  TANDEM_ASSIGN_OR_RETURN(bool found, image.bind(1, id).step());
  if (!found) {
    return std::optional<ImageRecord>();
  }
  auto imageId = Digest::parse(id);
  if (!imageId) {
    return Error("the image index " + path() + " holds a malformed image id \"" + id +
                 "\"; it was changed outside tandem");
  }
  TANDEM_ASSIGN_OR_RETURN(Digest manifest, digestAt(image, 0, path()));
  ImageRecord record{.id = *imageId, .manifestDigest = manifest};
  record.createdAt = image.integer(1);
  record.size = static_cast<std::uint64_t>(image.integer(2));
  record.platform = image.text(3);

  TANDEM_ASSIGN_OR_RETURN(SqliteStatement blobs, db_.prepare(R"sql(
    SELECT kind, digest, size, diff_id, chain_id FROM image_blobs
    WHERE image_id = ?1 AND kind IN ('index', 'layer') ORDER BY kind, position)sql"));
  blobs.bind(1, id);
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(bool row, blobs.step());
    if (!row) {
      break;
    }
    TANDEM_ASSIGN_OR_RETURN(Digest digest, digestAt(blobs, 1, path()));
    if (blobs.text(0) == "index") {
      record.indexDigest = digest;
      continue;
    }
    TANDEM_ASSIGN_OR_RETURN(Digest diffId, digestAt(blobs, 3, path()));
    TANDEM_ASSIGN_OR_RETURN(Digest chainId, digestAt(blobs, 4, path()));
    record.layers.push_back(
        {digest, static_cast<std::uint64_t>(blobs.integer(2)), diffId, chainId});
  }

  TANDEM_ASSIGN_OR_RETURN(SqliteStatement tags,
                          db_.prepare("SELECT name FROM tags WHERE image_id = ?1 ORDER BY name"));
  tags.bind(1, id);
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(bool row, tags.step());
    if (!row) {
      break;
    }
    auto reference = parseReference(tags.text(0));
    if (!reference) {
      return std::move(reference).error().context("the image index " + path() +
                                                  " holds a tag tandem cannot read");
    }
    record.tags.push_back(std::move(*reference));
  }
  return std::optional<ImageRecord>(std::move(record));
}

Result<std::optional<ImageRecord>> ImageIndex::loadFirst(SqliteStatement& ids) {
  TANDEM_ASSIGN_OR_RETURN(bool found, ids.step());
  if (!found) {
    return std::optional<ImageRecord>();
  }
  return load(ids.text(0));
}

Result<std::optional<ImageRecord>> ImageIndex::findByReference(const Reference& reference) {
  TANDEM_ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::read(db_));
  if (reference.digest) {
    // A manifest digest names one image. An index digest may name several, one per platform
    // pulled; the newest wins.
    TANDEM_ASSIGN_OR_RETURN(SqliteStatement ids, db_.prepare(R"sql(
      SELECT id, 0 AS rank, created_at FROM images WHERE manifest_digest = ?1
      UNION ALL
      SELECT images.id, 1, images.created_at FROM images
        JOIN image_blobs ON image_blobs.image_id = images.id
        WHERE image_blobs.digest = ?1 AND image_blobs.kind = 'index'
      ORDER BY 2, 3 DESC LIMIT 1)sql"));
    ids.bind(1, reference.digest->text());
    return loadFirst(ids);
  }
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement ids,
                          db_.prepare("SELECT image_id FROM tags WHERE name = ?1"));
  ids.bind(1, tagName(reference));
  return loadFirst(ids);
}

Result<std::optional<ImageRecord>> ImageIndex::findById(std::string_view idOrPrefix) {
  std::string_view hex = idOrPrefix;
  if (hex.starts_with(kDigestPrefix)) {
    hex.remove_prefix(kDigestPrefix.size());
  }
  if (hex.empty() || hex.size() > 64 || !isLowerHex(hex)) {
    return Error("\"" + std::string(idOrPrefix) +
                 "\" is not an image id: expected up to 64 lowercase hex digits, optionally "
                 "after sha256:");
  }
  TANDEM_ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::read(db_));
  // substr rather than LIKE: LIKE would need its wildcards escaped and ignores case.
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement ids, db_.prepare(R"sql(
    SELECT id FROM images WHERE substr(id, 8, ?2) = ?1 ORDER BY id LIMIT 4)sql"));
  ids.bind(1, hex).bind(2, static_cast<std::int64_t>(hex.size()));
  std::vector<std::string> matches;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(bool row, ids.step());
    if (!row) {
      break;
    }
    matches.push_back(ids.text(0));
  }
  if (matches.empty()) {
    return std::optional<ImageRecord>();
  }
  if (matches.size() > 1) {
    std::string listed;
    for (const auto& match : matches) {
      listed += (listed.empty() ? "" : ", ") + match.substr(kDigestPrefix.size(), 12);
    }
    return Error("image id prefix \"" + std::string(hex) + "\" is ambiguous: it matches " + listed +
                     (matches.size() > 3 ? " and more" : "") + "; give more digits",
                 EINVAL);
  }
  return load(matches.front());
}

Result<std::optional<ImageRecord>> ImageIndex::find(std::string_view text) {
  std::string_view hex = text;
  bool prefixed = hex.starts_with(kDigestPrefix);
  if (prefixed) {
    hex.remove_prefix(kDigestPrefix.size());
  }
  // docker's order: a full id is an id even though it also parses as a repository name.
  if (prefixed || (hex.size() == 64 && isLowerHex(hex))) {
    return findById(text);
  }
  if (auto reference = parseReference(text)) {
    TANDEM_ASSIGN_OR_RETURN(auto image, findByReference(*reference));
    if (image) {
      return image;
    }
  }
  if (!hex.empty() && hex.size() <= 64 && isLowerHex(hex)) {
    return findById(hex);
  }
  return std::optional<ImageRecord>();
}

Result<std::vector<ImageRecord>> ImageIndex::listImages() {
  TANDEM_ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::read(db_));
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement ids,
                          db_.prepare("SELECT id FROM images ORDER BY created_at DESC, id"));
  std::vector<ImageRecord> images;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(bool row, ids.step());
    if (!row) {
      break;
    }
    TANDEM_ASSIGN_OR_RETURN(auto image, load(ids.text(0)));
    if (image) {
      images.push_back(std::move(*image));
    }
  }
  return images;
}

Status ImageIndex::addTag(const Digest& id, const Reference& reference) {
  if (reference.tag.empty()) {
    return Error("cannot tag an image as \"" + reference.text() +
                 "\": it names a digest; give a tag, as in " + reference.name() + ":latest");
  }
  TANDEM_ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::write(db_));
  TANDEM_ASSIGN_OR_RETURN(auto image, load(id.text()));
  if (!image) {
    return Error("no image " + id.shortId() + " in the store; `tandem images` lists them", ENOENT);
  }
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement upsertTag, db_.prepare(R"sql(
    INSERT INTO tags (name, image_id) VALUES (?1, ?2)
    ON CONFLICT (name) DO UPDATE SET image_id = excluded.image_id)sql"));
  TANDEM_TRY(upsertTag.bind(1, tagName(reference)).bind(2, id.text()).run());
  return transaction.commit();
}

Result<Digest> ImageIndex::untag(const Reference& reference) {
  if (reference.tag.empty()) {
    return Error("cannot untag \"" + reference.text() + "\": it names a digest, not a tag");
  }
  std::string name = tagName(reference);
  TANDEM_ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::write(db_));
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement lookup,
                          db_.prepare("SELECT image_id FROM tags WHERE name = ?1"));
  TANDEM_ASSIGN_OR_RETURN(bool found, lookup.bind(1, name).step());
  if (!found) {
    return Error("no image is tagged " + reference.familiar() + "; `tandem images` lists tags",
                 ENOENT);
  }
  TANDEM_ASSIGN_OR_RETURN(Digest id, digestAt(lookup, 0, path()));
  lookup.reset();
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement remove, db_.prepare("DELETE FROM tags WHERE name = ?1"));
  TANDEM_TRY(remove.bind(1, name).run());
  TANDEM_TRY(transaction.commit());
  return id;
}

Status ImageIndex::removeImage(const Digest& id, bool force) {
  TANDEM_ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::write(db_));
  TANDEM_ASSIGN_OR_RETURN(auto image, load(id.text()));
  if (!image) {
    return Error("no image " + id.shortId() + " in the store; `tandem images` lists them", ENOENT);
  }
  std::set<std::string> repositories;
  std::string tags;
  for (const auto& tag : image->tags) {
    repositories.insert(tag.name());
    tags += (tags.empty() ? "" : ", ") + tag.familiar();
  }
  if (repositories.size() > 1 && !force) {
    return Error("image " + id.shortId() + " is tagged in more than one repository (" + tags +
                     "); remove it by one of those names, or force its removal",
                 EBUSY);
  }
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement remove, db_.prepare("DELETE FROM images WHERE id = ?1"));
  TANDEM_TRY(remove.bind(1, id.text()).run());
  return transaction.commit();
}

Status ImageIndex::recordUnpackedLayer(const UnpackedLayer& layer) {
  TANDEM_ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::write(db_));
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement insert, db_.prepare(R"sql(
    INSERT OR REPLACE INTO layers (chain_id, diff_id, blob_digest, size, unpacked_at)
    VALUES (?1, ?2, ?3, ?4, ?5))sql"));
  std::int64_t when = layer.unpackedAt != 0 ? layer.unpackedAt : std::time(nullptr);
  TANDEM_TRY(insert.bind(1, layer.chainId.text())
                 .bind(2, layer.diffId.text())
                 .bind(3, layer.blob.text())
                 .bind(4, asColumn(layer.size))
                 .bind(5, when)
                 .run());
  return transaction.commit();
}

Result<std::optional<UnpackedLayer>> ImageIndex::findUnpackedLayer(const Digest& chainId) {
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement query, db_.prepare(R"sql(
    SELECT diff_id, blob_digest, size, unpacked_at FROM layers WHERE chain_id = ?1)sql"));
  TANDEM_ASSIGN_OR_RETURN(bool found, query.bind(1, chainId.text()).step());
  if (!found) {
    return std::optional<UnpackedLayer>();
  }
  TANDEM_ASSIGN_OR_RETURN(Digest diffId, digestAt(query, 0, path()));
  TANDEM_ASSIGN_OR_RETURN(Digest blob, digestAt(query, 1, path()));
  return std::optional<UnpackedLayer>(UnpackedLayer{
      chainId, diffId, blob, static_cast<std::uint64_t>(query.integer(2)), query.integer(3)});
}

Result<GcReport> ImageIndex::garbageCollect(const BlobStore& store, const GcOptions& options) {
  GcReport report;
  // The write lock for the whole collection: registerImage checks its blobs under the same
  // lock, so it either commits before the referenced set is read here, or runs after the
  // removals and finds its blob missing; it can never register an image whose blob goes.
  TANDEM_ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::write(db_));
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement referenced,
                          db_.prepare("SELECT DISTINCT digest FROM image_blobs"));
  std::set<std::string> inUse;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(bool row, referenced.step());
    if (!row) {
      break;
    }
    inUse.insert(referenced.text(0));
  }

  TANDEM_ASSIGN_OR_RETURN(std::vector<BlobInfo> blobs, store.listBlobs());
  std::int64_t now = std::time(nullptr);
  for (const auto& blob : blobs) {
    if (inUse.contains(blob.digest.text())) {
      continue;
    }
    if (now - blob.modifiedAt < options.blobMinAge.count()) {
      ++report.keptYoungBlobs;
      continue;
    }
    TANDEM_TRY(store.remove(blob.digest));
    report.removedBlobs.push_back(blob.digest);
    report.freedBytes += blob.size;
  }

  TANDEM_ASSIGN_OR_RETURN(SqliteStatement unused, db_.prepare(R"sql(
    SELECT chain_id FROM layers WHERE chain_id NOT IN
      (SELECT chain_id FROM image_blobs WHERE chain_id IS NOT NULL) ORDER BY chain_id)sql"));
  std::vector<Digest> unusedLayers;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(bool row, unused.step());
    if (!row) {
      break;
    }
    TANDEM_ASSIGN_OR_RETURN(Digest chainId, digestAt(unused, 0, path()));
    unusedLayers.push_back(std::move(chainId));
  }
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement forget,
                          db_.prepare("DELETE FROM layers WHERE chain_id = ?1"));
  for (const auto& chainId : unusedLayers) {
    forget.reset();
    TANDEM_TRY(forget.bind(1, chainId.text()).run());
    report.layerFoldersToRemove.push_back(layerFolder(chainId));
  }

  TANDEM_ASSIGN_OR_RETURN(report.partials, store.removeStalePartials(options.partialMaxAge));
  report.freedBytes += report.partials.bytes;
  TANDEM_TRY(transaction.commit());
  return report;
}

}  // namespace tandem::image

#include "common/image/image_import.h"

#include <unistd.h>

#include <cstdint>
#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/file.h"
#include "common/image/layout_source.h"
#include "common/image/layout_writer.h"

namespace tandem::image {

namespace {

// The digest of the rest of `fd`, which is left rewound to its start so that the blob can be
// stored from the same fd.
Result<Digest> digestOfFile(int fd, const std::string& what) {
  Sha256 hash;
  TANDEM_TRY(readInChunks(fd, what, [&](std::span<const std::uint8_t> chunk) {
    hash.update(chunk);
    return okStatus();
  }));
  if (::lseek(fd, 0, SEEK_SET) < 0) {
    return Error::fromErrno("cannot rewind " + what);
  }
  return hash.finish();
}

// A document named by a descriptor: read from the layout, checked against the descriptor's
// digest and size, then stored.
Result<std::string> ingestDocument(const LayoutSource& source, const Descriptor& descriptor,
                                   const BlobStore& store) {
  if (descriptor.size > static_cast<std::int64_t>(kMaxDocumentBytes)) {
    return Error("the image's " + descriptor.mediaType + " " + descriptor.digest.text() + " is " +
                 std::to_string(descriptor.size) + " bytes; documents over 4 MiB are refused");
  }
  TANDEM_ASSIGN_OR_RETURN(
      std::string bytes, source.readDocument(layoutBlobName(descriptor.digest), kMaxDocumentBytes));
  if (static_cast<std::int64_t>(bytes.size()) != descriptor.size) {
    return Error(layoutBlobName(descriptor.digest) + " in " + source.path() + " is " +
                 std::to_string(bytes.size()) + " bytes; its descriptor says " +
                 std::to_string(descriptor.size));
  }
  TANDEM_TRY(store.ingestBytes(bytesOf(bytes), descriptor.digest)
                 .context("image archive " + source.path()));
  return bytes;
}

// The tags an index entry's annotations give: containerd's full name, or a ref.name that is a
// whole reference. A bare tag ("1.0", as skopeo and umoci write) names no repository, so it
// cannot tag anything by itself.
std::vector<Reference> tagsFromAnnotations(const Descriptor& entry) {
  std::vector<Reference> tags;
  for (auto key : {annotation::kContainerdName, annotation::kRefName}) {
    auto it = entry.annotations.find(std::string(key));
    if (it == entry.annotations.end()) {
      continue;
    }
    bool wholeReference = it->second.find_first_of("/:") != std::string::npos;
    if (!wholeReference) {
      continue;
    }
    if (auto ref = parseReference(it->second); ref.ok() && !ref->tag.empty()) {
      ref->digest.reset();
      tags.push_back(*ref);
      break;
    }
  }
  return tags;
}

struct ImportContext {
  const LayoutSource& source;
  const BlobStore& store;
  ImageIndex& index;
  const ImportOptions& options;
  Platform platform;
};

Result<ImageRecord> importManifest(ImportContext& context, const Descriptor& manifestDescriptor,
                                   std::optional<Digest> indexDigest, std::vector<Reference> tags) {
  TANDEM_ASSIGN_OR_RETURN(std::string manifestBytes,
                          ingestDocument(context.source, manifestDescriptor, context.store));
  TANDEM_ASSIGN_OR_RETURN(Manifest manifest, parseManifest(manifestBytes));
  TANDEM_ASSIGN_OR_RETURN(std::string configBytes,
                          ingestDocument(context.source, manifest.config, context.store));
  TANDEM_ASSIGN_OR_RETURN(ImageConfig config, parseImageConfig(configBytes));
  if (config.diffIds.size() != manifest.layers.size()) {
    return Error("image " + manifestDescriptor.digest.text() + " in " + context.source.path() +
                 " lists " + std::to_string(manifest.layers.size()) +
                 " layers, but its config has " + std::to_string(config.diffIds.size()) +
                 " diff_ids");
  }
  ImageRegistration registration{
      .config = manifest.config.digest,
      .manifest = manifestDescriptor.digest,
      .index = indexDigest,
      .layers = {},
      .diffIds = config.diffIds,
      .platform = config.platform.text(),
      .tags = std::move(tags),
  };
  for (const auto& layer : manifest.layers) {
    if (!isSupportedLayerType(layer.mediaType)) {
      return Error("layer " + layer.digest.text() + " has media type \"" + layer.mediaType +
                   "\"; tandem unpacks tar layers, plain or gzip- or zstd-compressed");
    }
    TANDEM_ASSIGN_OR_RETURN(UniqueFd fd, context.source.openFile(layoutBlobName(layer.digest)));
    TANDEM_TRY(
        context.store.ingestFromFd(fd.get(), layer.digest, static_cast<std::uint64_t>(layer.size))
            .context("image archive " + context.source.path()));
    registration.layers.push_back(layer.digest);
  }
  registration.tags.insert(registration.tags.end(), context.options.tags.begin(),
                           context.options.tags.end());
  return context.index.registerImage(registration, context.store);
}

Result<std::vector<ImageRecord>> importOciLayout(ImportContext& context) {
  const auto& source = context.source;
  TANDEM_ASSIGN_OR_RETURN(std::string layoutText,
                          source.readDocument("oci-layout", kMaxDocumentBytes));
  auto layout = nlohmann::json::parse(layoutText, nullptr, false);
  if (layout.is_discarded() || !layout.is_object() ||
      !layout.value("imageLayoutVersion", nlohmann::json()).is_string()) {
    return Error("oci-layout in " + source.path() + " is not an OCI layout marker");
  }
  TANDEM_ASSIGN_OR_RETURN(std::string indexText,
                          source.readDocument("index.json", kMaxDocumentBytes));
  TANDEM_ASSIGN_OR_RETURN(Index top,
                          parseIndex(indexText).context("index.json in " + source.path()));
  if (top.manifests.empty()) {
    return Error("index.json in " + source.path() + " lists no image");
  }
  std::vector<ImageRecord> imported;
  for (const auto& entry : top.manifests) {
    auto tags = tagsFromAnnotations(entry);
    bool isIndex = entry.mediaType == media_type::kOciIndex ||
                   entry.mediaType == media_type::kDockerManifestList;
    if (!isIndex) {
      TANDEM_ASSIGN_OR_RETURN(ImageRecord record,
                              importManifest(context, entry, std::nullopt, std::move(tags)));
      imported.push_back(std::move(record));
      continue;
    }
    TANDEM_ASSIGN_OR_RETURN(std::string nestedText, ingestDocument(source, entry, context.store));
    TANDEM_ASSIGN_OR_RETURN(Index nested, parseIndex(nestedText));
    TANDEM_ASSIGN_OR_RETURN(Descriptor chosen, choosePlatform(nested, context.platform));
    TANDEM_ASSIGN_OR_RETURN(ImageRecord record,
                            importManifest(context, chosen, entry.digest, std::move(tags)));
    imported.push_back(std::move(record));
  }
  return imported;
}

// One image of a `docker save` archive: its layers are uncompressed tars, so each layer's
// digest must be its diff_id from the config; the manifest the store keeps is written here.
Result<ImageRecord> importDockerSaveImage(ImportContext& context, const nlohmann::json& item,
                                          std::size_t position) {
  const auto& source = context.source;
  std::string where = "manifest.json[" + std::to_string(position) + "] in " + source.path();
  auto config = item.find("Config");
  auto layers = item.find("Layers");
  if (!item.is_object() || config == item.end() || !config->is_string() || layers == item.end() ||
      !layers->is_array()) {
    return Error(where + ": expected an object with a Config string and a Layers array");
  }
  TANDEM_ASSIGN_OR_RETURN(std::string configBytes,
                          source.readDocument(config->get<std::string>(), kMaxDocumentBytes));
  TANDEM_ASSIGN_OR_RETURN(Digest configDigest,
                          context.store.ingestBytes(bytesOf(configBytes)).context(where));
  TANDEM_ASSIGN_OR_RETURN(ImageConfig parsed, parseImageConfig(configBytes).context(where));
  if (parsed.diffIds.size() != layers->size()) {
    return Error(where + ": " + std::to_string(layers->size()) + " layers, but the config has " +
                 std::to_string(parsed.diffIds.size()) + " diff_ids");
  }
  Manifest manifest{
      .mediaType = std::string(media_type::kOciManifest),
      .config = {.mediaType = std::string(media_type::kOciConfig),
                 .digest = configDigest,
                 .size = static_cast<std::int64_t>(configBytes.size())},
      .layers = {},
  };
  for (std::size_t i = 0; i < layers->size(); ++i) {
    const auto& name = (*layers)[i];
    if (!name.is_string()) {
      return Error(where + ": Layers[" + std::to_string(i) + "] is not a file name");
    }
    std::string layerName = name.get<std::string>();
    TANDEM_ASSIGN_OR_RETURN(UniqueFd fd, source.openFile(layerName));
    TANDEM_ASSIGN_OR_RETURN(Digest digest, digestOfFile(fd.get(), layerName));
    if (digest != parsed.diffIds[i]) {
      return Error(where + ": layer " + layerName + " has digest " + digest.text() +
                   ", but the config's diff_id for it is " + parsed.diffIds[i].text() +
                   " (docker save writes uncompressed layers; the archive is damaged or altered)");
    }
    TANDEM_ASSIGN_OR_RETURN(std::uint64_t size, regularFileSize(fd.get(), layerName));
    TANDEM_TRY(context.store.ingestFromFd(fd.get(), digest, size).context(where));
    manifest.layers.push_back({.mediaType = std::string(media_type::kOciLayer),
                               .digest = digest,
                               .size = static_cast<std::int64_t>(size)});
  }
  std::string manifestBytes = serializeManifest(manifest);
  TANDEM_ASSIGN_OR_RETURN(Digest manifestDigest,
                          context.store.ingestBytes(bytesOf(manifestBytes)).context(where));
  ImageRegistration registration{
      .config = configDigest,
      .manifest = manifestDigest,
      .index = std::nullopt,
      .layers = {},
      .diffIds = parsed.diffIds,
      .platform = parsed.platform.text(),
      .tags = {},
  };
  for (const auto& layer : manifest.layers) {
    registration.layers.push_back(layer.digest);
  }
  if (auto tags = item.find("RepoTags"); tags != item.end() && tags->is_array()) {
    for (const auto& tag : *tags) {
      if (!tag.is_string()) {
        return Error(where + ": RepoTags holds something other than strings");
      }
      TANDEM_ASSIGN_OR_RETURN(Reference ref, parseReference(tag.get<std::string>()).context(where));
      registration.tags.push_back(ref);
    }
  }
  registration.tags.insert(registration.tags.end(), context.options.tags.begin(),
                           context.options.tags.end());
  return context.index.registerImage(registration, context.store);
}

Result<std::vector<ImageRecord>> importDockerSave(ImportContext& context) {
  TANDEM_ASSIGN_OR_RETURN(std::string text,
                          context.source.readDocument("manifest.json", kMaxDocumentBytes));
  auto document = nlohmann::json::parse(text, nullptr, false);
  if (document.is_discarded() || !document.is_array() || document.empty()) {
    return Error("manifest.json in " + context.source.path() +
                 " is not a non-empty JSON array of images");
  }
  std::vector<ImageRecord> imported;
  for (std::size_t i = 0; i < document.size(); ++i) {
    TANDEM_ASSIGN_OR_RETURN(ImageRecord record, importDockerSaveImage(context, document[i], i));
    imported.push_back(std::move(record));
  }
  return imported;
}

}  // namespace

Result<std::vector<ImageRecord>> importImageArchive(const std::string& path, const BlobStore& store,
                                                    ImageIndex& index,
                                                    const ImportOptions& options) {
  TANDEM_ASSIGN_OR_RETURN(LayoutSource source, LayoutSource::open(path, store.root() + "/ingest"));
  ImportContext context{source, store, index, options, options.platform.value_or(hostPlatform())};
  // docker save since 25.0 writes both; the OCI layout is the richer of the two.
  if (source.has("oci-layout") && source.has("index.json")) {
    return importOciLayout(context).context("cannot load " + path);
  }
  if (source.has("manifest.json")) {
    return importDockerSave(context).context("cannot load " + path);
  }
  return Error("cannot load " + path +
               ": it is neither an OCI image layout (oci-layout and index.json) nor a docker save "
               "archive (manifest.json)");
}

}  // namespace tandem::image

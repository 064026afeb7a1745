#include "common/image/image_export.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/file.h"

namespace tandem::image {

namespace {

// How errors name an image: as the user will know it.
std::string shownName(const ImageToExport& image) {
  if (!image.names.empty()) {
    return image.names.front().familiar();
  }
  if (!image.record.tags.empty()) {
    return image.record.tags.front().familiar();
  }
  return image.record.id.shortId();
}

std::vector<ImageToExport> mergedById(const std::vector<ImageToExport>& images) {
  std::vector<ImageToExport> merged;
  for (const auto& image : images) {
    auto same = std::find_if(merged.begin(), merged.end(), [&](const ImageToExport& seen) {
      return seen.record.id == image.record.id;
    });
    if (same == merged.end()) {
      merged.push_back(image);
      continue;
    }
    for (const auto& name : image.names) {
      bool known = std::any_of(same->names.begin(), same->names.end(),
                               [&](const Reference& other) { return other.text() == name.text(); });
      if (!known) {
        same->names.push_back(name);
      }
    }
  }
  return merged;
}

class ImageExport {
 public:
  ImageExport(const ImageToExport& image, const BlobStore& store)
      : image_(image), store_(store), shown_(shownName(image)) {}

  // Adds the image's blobs to `files` and its entries to index.json; answers its manifest.json
  // object, its keys in the order docker writes them.
  Result<nlohmann::ordered_json> addTo(LayoutFiles& files) {
    const ImageRecord& record = image_.record;
    TANDEM_TRY(need(record.manifestDigest));
    TANDEM_ASSIGN_OR_RETURN(UniqueFd fd, store_.open(record.manifestDigest));
    TANDEM_ASSIGN_OR_RETURN(std::string manifestBytes,
                            readFile(fd.get(), store_.path(record.manifestDigest)));
    TANDEM_ASSIGN_OR_RETURN(Manifest manifest,
                            parseManifest(manifestBytes)
                                .context("the stored manifest of image " + shown_ + " is damaged"));
    if (manifest.config.digest != record.id) {
      return Error("the stored manifest of image " + shown_ + " names config " +
                   manifest.config.digest.text() + ", not the image's id " + record.id.text());
    }
    TANDEM_TRY(add(files, record.manifestDigest));
    TANDEM_TRY(add(files, manifest.config.digest));
    nlohmann::ordered_json layers = nlohmann::ordered_json::array();
    for (const auto& layer : manifest.layers) {
      TANDEM_TRY(add(files, layer.digest));
      layers.push_back(layoutBlobName(layer.digest));
    }

    Descriptor entry{.mediaType = manifest.mediaType,
                     .digest = record.manifestDigest,
                     .size = static_cast<std::int64_t>(manifestBytes.size()),
                     .platform = std::nullopt,
                     .annotations = {}};
    if (auto platform = parsePlatform(record.platform); platform) {
      entry.platform = *platform;
    }
    nlohmann::ordered_json repoTags = nlohmann::ordered_json::array();
    if (image_.names.empty()) {
      files.index.manifests.push_back(namedIndexEntry(entry, std::nullopt));
    }
    for (const auto& name : image_.names) {
      files.index.manifests.push_back(namedIndexEntry(entry, name));
      repoTags.push_back(name.familiar());
    }
    return nlohmann::ordered_json{{"Config", layoutBlobName(manifest.config.digest)},
                                  {"RepoTags", repoTags},
                                  {"Layers", layers}};
  }

 private:
  Status need(const Digest& digest) const {
    if (!store_.has(digest)) {
      return Error("image " + shown_ + " lacks blob " + digest.text() +
                       " in the store; pull or load the image again",
                   ENOENT);
    }
    return okStatus();
  }

  Status add(LayoutFiles& files, const Digest& digest) const {
    TANDEM_TRY(need(digest));
    files.blobs.push_back({digest, store_.path(digest)});
    return okStatus();
  }

  const ImageToExport& image_;
  const BlobStore& store_;
  std::string shown_;
};

}  // namespace

Result<LayoutFiles> exportImages(const std::vector<ImageToExport>& images, const BlobStore& store) {
  if (images.empty()) {
    return Error("no image to save", EINVAL);
  }
  LayoutFiles files;
  files.index.mediaType = std::string(media_type::kOciIndex);
  nlohmann::ordered_json dockerManifest = nlohmann::ordered_json::array();
  for (const auto& image : mergedById(images)) {
    TANDEM_ASSIGN_OR_RETURN(nlohmann::ordered_json item, ImageExport(image, store).addTo(files));
    dockerManifest.push_back(std::move(item));
  }
  files.dockerManifest = dockerManifest.dump();
  return files;
}

}  // namespace tandem::image

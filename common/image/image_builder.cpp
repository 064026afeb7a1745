#include "common/image/image_builder.h"

#include <fcntl.h>
#include <stdio.h>

#include <ctime>
#include <utility>

#include "common/file.h"
#include "common/image/layer_writer.h"
#include "common/image/layout_writer.h"

namespace tandem::image {

namespace {

std::string blobPath(const std::string& layout, const Digest& digest) {
  return layout + "/" + layoutBlobName(digest);
}

Status writeBlob(const std::string& layout, const Digest& digest, std::string_view bytes) {
  return writeFile(blobPath(layout, digest), bytes, 0644);
}

struct LayerBlob {
  Descriptor descriptor;
  Digest diffId;
};

Result<LayerBlob> writeLayer(const std::string& layout, const std::string& folder,
                             std::size_t position, const LayerWriteOptions& options) {
  std::string partial = layout + "/blobs/sha256/layer-" + std::to_string(position) + ".partial";
  WrittenLayer written;
  {
    TANDEM_ASSIGN_OR_RETURN(UniqueFd fd, openPath(partial, O_WRONLY | O_CREAT | O_EXCL, 0644));
    TANDEM_ASSIGN_OR_RETURN(written, writeFolderLayer(folder, fd.get(), options));
  }
  // Two identical folders make one blob, listed twice.
  if (::rename(partial.c_str(), blobPath(layout, written.blob).c_str()) != 0) {
    return Error::fromErrno("cannot name the layer blob of " + folder);
  }
  LayerBlob layer;
  layer.descriptor.mediaType = std::string(media_type::kOciLayerGzip);
  layer.descriptor.digest = written.blob;
  layer.descriptor.size = static_cast<std::int64_t>(written.blobSize);
  layer.diffId = written.diffId;
  return layer;
}

}  // namespace

std::string rfc3339(std::int64_t seconds) {
  time_t time = static_cast<time_t>(seconds);
  struct tm parts {};
  ::gmtime_r(&time, &parts);
  char text[32];
  std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return std::string(text, length);
}

Result<BuiltImage> buildImage(const ImageBuildSpec& spec, const std::string& output,
                              LayoutFormat format) {
  if (spec.layerFolders.empty()) {
    return Error("an image needs at least one layer folder", EINVAL);
  }
  if (spec.layerFolders.size() > kMaxLayers) {
    return Error("an image can have at most " + std::to_string(kMaxLayers) + " layers", EINVAL);
  }
  // Checked again when the layout is published; here so that no layer is packed in vain.
  if (format == LayoutFormat::kFolder && pathExists(output)) {
    return Error(output + " exists already; remove it or choose another output", EEXIST);
  }
  // The blobs are made here first: a layer's digest is only known once it is written.
  TANDEM_ASSIGN_OR_RETURN(Scratch layout, Scratch::folderBeside(output));
  TANDEM_TRY(makeDirectories(layout.path() + "/blobs/sha256"));

  BuiltImage built;
  LayerWriteOptions layerOptions{.epoch = spec.epoch, .rootOwned = spec.rootOwned};
  for (std::size_t i = 0; i < spec.layerFolders.size(); ++i) {
    TANDEM_ASSIGN_OR_RETURN(LayerBlob layer,
                            writeLayer(layout.path(), spec.layerFolders[i], i, layerOptions));
    built.layers.push_back(std::move(layer.descriptor));
    built.diffIds.push_back(layer.diffId);
  }

  ImageConfig config;
  config.platform = hostPlatform();
  config.created = rfc3339(spec.epoch);
  config.defaults = spec.defaults;
  config.diffIds = built.diffIds;
  std::string configBytes = serializeImageConfig(config);
  built.config = Digest::ofText(configBytes);
  TANDEM_TRY(writeBlob(layout.path(), built.config, configBytes));

  Manifest manifest;
  manifest.mediaType = std::string(media_type::kOciManifest);
  manifest.config.mediaType = std::string(media_type::kOciConfig);
  manifest.config.digest = built.config;
  manifest.config.size = static_cast<std::int64_t>(configBytes.size());
  manifest.layers = built.layers;
  std::string manifestBytes = serializeManifest(manifest);
  built.manifest.mediaType = manifest.mediaType;
  built.manifest.digest = Digest::ofText(manifestBytes);
  built.manifest.size = static_cast<std::int64_t>(manifestBytes.size());
  built.manifest.platform = config.platform;
  TANDEM_TRY(writeBlob(layout.path(), built.manifest.digest, manifestBytes));

  LayoutFiles files;
  files.index.mediaType = std::string(media_type::kOciIndex);
  files.index.manifests.push_back(namedIndexEntry(built.manifest, spec.tag));
  for (const auto& digest : {built.config, built.manifest.digest}) {
    files.blobs.push_back({digest, blobPath(layout.path(), digest)});
  }
  for (const auto& layer : built.layers) {
    files.blobs.push_back({layer.digest, blobPath(layout.path(), layer.digest)});
  }
  if (format == LayoutFormat::kFolder) {
    TANDEM_TRY(writeLayoutFolder(files, output));
  } else {
    TANDEM_TRY(writeLayoutTar(files, output, spec.epoch));
  }
  return built;
}

}  // namespace tandem::image

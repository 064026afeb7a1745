// Building an OCI image from folders, one layer each (layer_writer.h), without a registry or a
// daemon: the layers, an image config with the run defaults, a manifest, and an OCI image layout
// holding them, as a folder or as a tar of one (what `tandem load`, skopeo's oci: and
// oci-archive: transports and umoci read). The same folders and spec give the same bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/image/oci.h"
#include "common/image/reference.h"
#include "common/result.h"

namespace tandem::image {

enum class LayoutFormat {
  kFolder,  // the layout's files in a new folder
  kTar,     // an uncompressed tar of them
};

struct ImageBuildSpec {
  std::vector<std::string> layerFolders;  // base layer first
  // Written into index.json as org.opencontainers.image.ref.name and io.containerd.image.name,
  // both the full reference, which tandem load and containerd take as the image's tag.
  std::optional<Reference> tag;
  ContainerDefaults defaults;
  // The config's "created" and the clamp for every mtime in the layers.
  std::int64_t epoch = 0;
  bool rootOwned = false;
};

struct BuiltImage {
  Descriptor manifest;
  Digest config;
  std::vector<Descriptor> layers;
  std::vector<Digest> diffIds;
};

// Writes the image to `output`, which must not exist yet (a folder) or is replaced (a tar);
// either appears complete or not at all, and the folder holding it must exist.
Result<BuiltImage> buildImage(const ImageBuildSpec& spec, const std::string& output,
                              LayoutFormat format);

// RFC 3339 in UTC, as image configs write "created": "1970-01-01T00:00:00Z".
std::string rfc3339(std::int64_t seconds);

}  // namespace tandem::image

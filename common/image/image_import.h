// `tandem load`: images from an OCI image layout (a folder or a tar of one, as skopeo, umoci,
// buildah and `docker save` since 25.0 write them) or from a `docker save` archive of the older
// kind (manifest.json with Config, RepoTags and Layers). Every blob is checked against its digest
// on the way into the store, and an image is registered only once all of its blobs are in: an
// import that fails half way registers nothing (what it stored goes at the next prune).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/image/blob_store.h"
#include "common/image/image_index.h"
#include "common/image/oci.h"
#include "common/image/reference.h"
#include "common/result.h"

namespace tandem::image {

struct ImportOptions {
  // Which manifest of a multi-platform index to take; the host's when empty.
  std::optional<Platform> platform;
  // Tags for the imported image, on top of those the archive names. With several images in
  // one archive, each gets them in turn, so the last one keeps them.
  std::vector<Reference> tags;
};

Result<std::vector<ImageRecord>> importImageArchive(const std::string& path, const BlobStore& store,
                                                    ImageIndex& index,
                                                    const ImportOptions& options);

}  // namespace tandem::image

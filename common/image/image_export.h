// `tandem save`: stored images as the files of one OCI image layout (layout_writer.h), with a
// docker manifest.json beside index.json as `docker save` has written since 25.0, so that tandem
// load, docker load, umoci and skopeo's oci:, oci-archive: and docker-archive: transports all
// read the result. Everything comes from the store as it is: no blob is rewritten, so the image
// id and manifest digest survive the trip.
#pragma once

#include <vector>

#include "common/image/blob_store.h"
#include "common/image/image_index.h"
#include "common/image/layout_writer.h"
#include "common/image/reference.h"
#include "common/result.h"

namespace tandem::image {

struct ImageToExport {
  ImageRecord record;
  // Tagged references to record: one index.json entry each, and manifest.json's RepoTags. With
  // none, the image gets one index.json entry without a name and loads untagged.
  std::vector<Reference> names;
};

// The layout's files, the blobs read from `store` where they lie. The same image listed twice is
// written once, with the names of both. A blob missing from the store is an error naming the
// image and the digest.
Result<LayoutFiles> exportImages(const std::vector<ImageToExport>& images, const BlobStore& store);

}  // namespace tandem::image

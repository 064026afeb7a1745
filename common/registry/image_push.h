// Pushes one stored image to a registry (OCI distribution spec, "Push"): each blob the
// repository lacks is linked from another repository of the same registry when the image came
// from one, or uploaded from its file; then the manifest, byte for byte as stored, so that its
// digest, and the image's identity, survive the trip. An image pulled through an index is
// pushed as its platform's manifest alone: the index names platforms the store does not hold.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/image/blob_store.h"
#include "common/image/image_index.h"
#include "common/image/reference.h"
#include "common/registry/credentials.h"
#include "common/registry/http_request.h"
#include "common/registry/progress_display.h"
#include "common/registry/registry_access.h"
#include "common/result.h"

namespace tandem::registry {

using PushOptions = RegistryAccess;

struct PushResult {
  image::Reference reference;
  image::Digest manifestDigest;
  std::size_t blobsPushed = 0;   // uploaded
  std::size_t blobsSkipped = 0;  // the repository had them, or the registry mounted them
  std::uint64_t bytesTransferred = 0;
};

// The repository of `destination`'s registry that the image was tagged from, other than the
// destination's own: a registry can link blobs from there instead of receiving them again.
std::optional<std::string> mountSource(const image::ImageRecord& image,
                                       const image::Reference& destination);

Result<PushResult> pushImage(const image::ImageRecord& image, const image::Reference& destination,
                             const PushOptions& options, const image::BlobStore& store,
                             ProgressDisplay& display);

// The one JSON object tandem-registry prints for its caller.
std::string pushResultJson(const PushResult& result);

}  // namespace tandem::registry

// Pulls one image from a registry into the BlobStore (OCI distribution spec, "Pull"): the
// manifest (through an index by platform), then the config and layers, several at a time, each
// verified against its descriptor's digest and size before it becomes visible. What it returns is
// what the image index needs to register the image; registering is the caller's, so a failed
// pull registers nothing and leaves its partial downloads to be resumed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/image/blob_store.h"
#include "common/image/oci.h"
#include "common/image/reference.h"
#include "common/registry/credentials.h"
#include "common/registry/http_request.h"
#include "common/registry/progress_display.h"
#include "common/registry/registry_access.h"
#include "common/result.h"

namespace tandem::registry {

// Retries of a transfer the network (or a 5xx) broke, each resuming from what was written.
inline constexpr int kTransferRetries = 3;

struct PullOptions : RegistryAccess {
  // Chooses from an index; when given, a single-platform image of another platform is refused,
  // as docker pull --platform refuses it. Default: this host's, from an index only.
  std::optional<image::Platform> platform;
};

struct PullResult {
  image::Reference reference;
  image::Digest manifestDigest;
  std::optional<image::Digest> indexDigest;
  image::Manifest manifest;
  image::ImageConfig config;
  std::string platform;  // the config's, "linux/amd64"
  // Bytes of config and layer bodies received; manifests, always fetched, are not counted.
  std::uint64_t bytesTransferred = 0;
  std::size_t blobsReused = 0;  // config and layer blobs the store already held
};

Result<PullResult> pullImage(const image::Reference& reference, const PullOptions& options,
                             const image::BlobStore& store, ProgressDisplay& display);

// The one JSON object tandem-registry prints for its caller.
std::string pullResultJson(const PullResult& result);

}  // namespace tandem::registry

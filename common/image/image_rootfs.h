// Turning a stored image into what an isolation backend mounts or boots:
//  - for a container, the image's layers as overlayfs lower folders, each unpacked once per
//    chain id under <root>/layers/<hex> and shared by every workload and image that uses it;
//  - for a microVM, the layers flattened into one folder under <root>/flat/<image id hex>,
//    which the VMM packs into its initramfs (and, with virtio-blk, an ext4 image).
// Both are built in a temporary folder beside their final name and renamed into place, so a
// folder that has its final name is complete, and two tandem processes preparing the same image
// at once both end with the one that was renamed first.
#pragma once

#include <string>
#include <vector>

#include "common/image/blob_store.h"
#include "common/image/image_index.h"
#include "common/result.h"

namespace tandem::image {

// The image's layer folders, base layer first. Needs root: whiteouts become overlayfs's own.
Result<std::vector<std::string>> overlayLayers(const ImageRecord& image, const BlobStore& store,
                                               ImageIndex& index);

// The image's layers applied one on another into one folder; its path.
Result<std::string> flattenedRootfs(const ImageRecord& image, const BlobStore& store);

// The same into a new folder `target` of the caller's (`tandem image unpack`), which must not
// exist yet; on an error, nothing of it is left.
Status unpackImage(const ImageRecord& image, const BlobStore& store, const std::string& target);

}  // namespace tandem::image

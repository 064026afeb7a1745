// A microVM's root disk for a stored image: the image's flattened layers (image_rootfs.h) as an
// ext4 file system, made by e2fsprogs' `mkfs.ext4 -d` as an unprivileged file operation and
// cached per image under <root>/disks/<image id hex>.ext4: the form a virtio-blk root device
// takes, for tandem's VMM once it has one and for other VMMs (Firecracker, QEMU) today.
#pragma once

#include <string>

#include "common/image/blob_store.h"
#include "common/image/image_index.h"
#include "common/result.h"

namespace tandem::image {

// The path of the image's disk, made first if it is not cached yet. The file is complete when
// it has its name: it is built beside it and renamed.
Result<std::string> imageDisk(const ImageRecord& image, const BlobStore& store);

// <root>/disks/<image id hex>.ext4, whether it exists or not.
std::string imageDiskPath(const std::string& storeRoot, const Digest& imageId);

}  // namespace tandem::image

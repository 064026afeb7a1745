// The busybox image built and installed with tandem (tools/mkimage), so that
// `tandem run localhost/tandem/busybox ...` works on a machine with no registry and an empty
// store: the first run that names it loads it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/image/blob_store.h"
#include "common/image/image_index.h"
#include "common/result.h"

namespace tandem::cli {

inline constexpr std::string_view kEmbeddedImage = "localhost/tandem/busybox:latest";

// When `imageText` normalises to kEmbeddedImage, loads the first archive of: the file
// busybox-image.tar in $TANDEM_IMAGES_DIR, in <tandem's dir>/../share/tandem/images (installed),
// and in <tandem's dir>/mkimage (the build tree). An empty optional for any other name.
Result<std::optional<image::ImageRecord>> loadEmbeddedImage(std::string_view imageText,
                                                            const image::BlobStore& blobs,
                                                            image::ImageIndex& index);

}  // namespace tandem::cli

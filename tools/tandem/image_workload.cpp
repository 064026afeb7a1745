#include "tools/tandem/image_workload.h"

#include "common/file.h"
#include "common/image/image_disk.h"
#include "common/image/image_rootfs.h"
#include "common/image/oci.h"
#include "tools/tandem/embedded_image.h"

namespace tandem::cli {

Result<ImageWorkload> ImageWorkload::find(const std::string& stateRoot,
                                          const std::string& imageText) {
  TANDEM_ASSIGN_OR_RETURN(image::BlobStore blobs, image::BlobStore::create(stateRoot));
  TANDEM_ASSIGN_OR_RETURN(image::ImageIndex index, image::ImageIndex::open(stateRoot));
  TANDEM_ASSIGN_OR_RETURN(auto found, index.find(imageText));
  if (!found) {
    TANDEM_ASSIGN_OR_RETURN(found, loadEmbeddedImage(imageText, blobs, index));
  }
  if (!found) {
    return Error("no image \"" + imageText + "\" in " + stateRoot +
                     " (tandem images lists them; tandem load adds one)",
                 ENOENT);
  }
  return ImageWorkload(std::move(blobs), std::move(index), std::move(*found));
}

Status ImageWorkload::applyDefaults(const image::RunOverrides& given, Workload& workload) const {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd fd, blobs_.open(record_.id));
  TANDEM_ASSIGN_OR_RETURN(std::string text, readFile(fd.get(), blobs_.path(record_.id)));
  TANDEM_ASSIGN_OR_RETURN(image::ImageConfig config, image::parseImageConfig(text));
  return image::applyImageDefaults(config.defaults, given, workload)
      .context("image " + record_.id.shortId());
}

Status ImageWorkload::prepareRootfs(Isolation level, Workload& workload) {
  if (level == Isolation::kVm) {
    TANDEM_ASSIGN_OR_RETURN(workload.rootfsDisk, image::imageDisk(record_, blobs_));
    return {};
  }
  TANDEM_ASSIGN_OR_RETURN(workload.rootfsLayers, image::overlayLayers(record_, blobs_, index_));
  return {};
}

}  // namespace tandem::cli

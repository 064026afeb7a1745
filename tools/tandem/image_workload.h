// `tandem run IMAGE`: the stored image a run names, its config applied to the workload, and the
// rootfs the chosen isolation level needs from it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/image/blob_store.h"
#include "common/image/image_index.h"
#include "common/image/run_defaults.h"
#include "common/result.h"
#include "common/workload.h"

namespace tandem::cli {

class ImageWorkload {
 public:
  // Finds `imageText` (a reference or an id) in the store under `stateRoot`, loading the
  // embedded busybox image first when that is what it names and the store lacks it.
  static Result<ImageWorkload> find(const std::string& stateRoot, const std::string& imageText);

  // Fills the workload's command, env, workdir and user from the image where the user gave none.
  Status applyDefaults(const image::RunOverrides& given, Workload& workload) const;

  // Points the workload at the image's layers (a container) or at its ext4 disk (a microVM),
  // unpacking or making what has not been made before.
  Status prepareRootfs(Isolation level, Workload& workload);

 private:
  ImageWorkload(image::BlobStore blobs, image::ImageIndex index, image::ImageRecord record)
      : blobs_(std::move(blobs)), index_(std::move(index)), record_(std::move(record)) {}

  image::BlobStore blobs_;
  image::ImageIndex index_;
  image::ImageRecord record_;
};

}  // namespace tandem::cli

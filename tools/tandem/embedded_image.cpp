#include "tools/tandem/embedded_image.h"

#include <cstdlib>
#include <vector>

#include "common/file.h"
#include "common/image/image_import.h"
#include "common/image/reference.h"
#include "common/process.h"

namespace tandem::cli {

namespace {

constexpr const char* kArchiveName = "busybox-image.tar";

std::vector<std::string> candidates() {
  std::vector<std::string> paths;
  if (const char* dir = std::getenv("TANDEM_IMAGES_DIR"); dir != nullptr && *dir != '\0') {
    paths.push_back(std::string(dir) + "/" + kArchiveName);
  }
  // Relative to the executable, as the guest init is found (vmm/vm_backend.cpp), so that an
  // installed tree can move and the build tree works without installing.
  if (auto self = ownExecutablePath(); self.ok()) {
    std::string dir = self->substr(0, self->rfind('/'));
    paths.push_back(dir + "/../share/tandem/images/" + kArchiveName);
    paths.push_back(dir + "/mkimage/" + kArchiveName);
  }
  return paths;
}

}  // namespace

Result<std::optional<image::ImageRecord>> loadEmbeddedImage(std::string_view imageText,
                                                            const image::BlobStore& blobs,
                                                            image::ImageIndex& index) {
  auto reference = image::parseReference(imageText);
  if (!reference || reference->digest || reference->text() != kEmbeddedImage) {
    return std::optional<image::ImageRecord>();
  }
  std::vector<std::string> tried = candidates();
  for (const auto& path : tried) {
    if (!pathExists(path)) {
      continue;
    }
    image::ImportOptions options;
    options.tags.push_back(*reference);
    TANDEM_ASSIGN_OR_RETURN(auto records, image::importImageArchive(path, blobs, index, options)
                                              .context("loading the embedded image"));
    if (records.empty()) {
      return Error("the embedded image archive " + path + " holds no image");
    }
    return std::optional<image::ImageRecord>(records.back());
  }
  std::string list;
  for (const auto& path : tried) {
    list += (list.empty() ? "" : ", ") + path;
  }
  return Error("no image \"" + std::string(imageText) + "\" in the store, and its archive " +
                   kArchiveName + " is in none of: " + list +
                   " (set TANDEM_IMAGES_DIR, or reinstall tandem)",
               ENOENT);
}

}  // namespace tandem::cli

#include "common/image/image_rootfs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <utility>

#include "common/file.h"
#include "common/image/layer_unpack.h"

namespace tandem::image {

namespace {

// A folder being built beside `finalPath`; removed unless published.
class FolderUnderConstruction {
 public:
  static Result<FolderUnderConstruction> create(const std::string& finalPath) {
    std::string templ = finalPath + ".tmp-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      return Error::fromErrno("cannot make a folder beside " + finalPath);
    }
    FolderUnderConstruction folder(templ, finalPath);
    TANDEM_ASSIGN_OR_RETURN(folder.fd_, openPath(templ, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    // mkdtemp's 0700 would become the root directory's mode; a rootfs's root is 0755.
    if (::fchmod(folder.fd_.get(), 0755) != 0) {
      return Error::fromErrno("cannot set the mode of " + templ);
    }
    return folder;
  }

  FolderUnderConstruction(FolderUnderConstruction&& other) noexcept
      : path_(std::exchange(other.path_, "")),
        finalPath_(std::move(other.finalPath_)),
        fd_(std::move(other.fd_)) {}
  FolderUnderConstruction& operator=(FolderUnderConstruction&&) = delete;
  ~FolderUnderConstruction() {
    fd_.reset();
    if (!path_.empty()) {
      (void)removeTree(path_);
    }
  }

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

  // Renames the folder to its final name. Another process that got there first wins, and this
  // folder is dropped: both built the same content.
  Status publish() {
    fd_.reset();
    if (::rename(path_.c_str(), finalPath_.c_str()) == 0) {
      path_.clear();
      return {};
    }
    if (errno == EEXIST || errno == ENOTEMPTY) {
      return {};
    }
    return Error::fromErrno("cannot rename " + path_ + " to " + finalPath_);
  }

 private:
  FolderUnderConstruction(std::string path, std::string finalPath)
      : path_(std::move(path)), finalPath_(std::move(finalPath)) {}

  std::string path_;
  std::string finalPath_;
  UniqueFd fd_;
};

Result<LayerUnpackStats> unpackBlobInto(const BlobStore& store, const Digest& blob, int rootFd,
                                        const std::string& rootPath, WhiteoutMode mode) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd layer, store.open(blob));
  LayerUnpackOptions options;
  options.whiteouts = mode;
  options.preserveOwnership = ::geteuid() == 0;
  return unpackLayer(layer.get(), blob.text(), rootFd, rootPath, options);
}

Status flattenInto(const ImageRecord& image, const BlobStore& store, int rootFd,
                   const std::string& rootPath) {
  for (const auto& layer : image.layers) {
    TANDEM_TRY(unpackBlobInto(store, layer.blob, rootFd, rootPath, WhiteoutMode::Apply));
  }
  return {};
}

}  // namespace

Result<std::vector<std::string>> overlayLayers(const ImageRecord& image, const BlobStore& store,
                                               ImageIndex& index) {
  TANDEM_TRY(makeDirectories(store.root() + "/layers", 0700));
  std::vector<std::string> folders;
  for (const auto& layer : image.layers) {
    std::string folder = index.layerFolder(layer.chainId);
    TANDEM_ASSIGN_OR_RETURN(auto recorded, index.findUnpackedLayer(layer.chainId));
    if (!recorded || !isDirectory(folder)) {
      TANDEM_ASSIGN_OR_RETURN(FolderUnderConstruction building,
                              FolderUnderConstruction::create(folder));
      TANDEM_ASSIGN_OR_RETURN(
          LayerUnpackStats stats,
          unpackBlobInto(store, layer.blob, building.fd(), building.path(), WhiteoutMode::Overlay));
      TANDEM_TRY(building.publish());
      TANDEM_TRY(index.recordUnpackedLayer({.chainId = layer.chainId,
                                            .diffId = layer.diffId,
                                            .blob = layer.blob,
                                            .size = stats.bytesWritten,
                                            .unpackedAt = 0}));
    }
    folders.push_back(folder);
  }
  return folders;
}

Result<std::string> flattenedRootfs(const ImageRecord& image, const BlobStore& store) {
  TANDEM_TRY(makeDirectories(store.root() + "/flat", 0700));
  std::string folder = store.root() + "/flat/" + image.id.hex();
  if (isDirectory(folder)) {
    return folder;
  }
  TANDEM_ASSIGN_OR_RETURN(FolderUnderConstruction building,
                          FolderUnderConstruction::create(folder));
  TANDEM_TRY(flattenInto(image, store, building.fd(), building.path()));
  TANDEM_TRY(building.publish());
  return folder;
}

Status unpackImage(const ImageRecord& image, const BlobStore& store, const std::string& target) {
  if (::mkdir(target.c_str(), 0755) != 0) {
    return Error::fromErrno("cannot create " + target +
                            (errno == EEXIST ? " (give a folder that does not exist yet)" : ""));
  }
  auto unpacked = [&]() -> Status {
    TANDEM_ASSIGN_OR_RETURN(UniqueFd root, openPath(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    return flattenInto(image, store, root.get(), target);
  }();
  if (!unpacked.ok()) {
    (void)removeTree(target);
  }
  return unpacked;
}

}  // namespace tandem::image

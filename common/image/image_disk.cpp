#include "common/image/image_disk.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/folder_disk.h"
#include "common/image/image_rootfs.h"
#include "common/image/layout_writer.h"
#include "common/unique_fd.h"

namespace tandem::image {

namespace {

// A UUID made of the image id's first 16 bytes: the same image gets the same file system UUID,
// which a guest's fstab could name.
std::string uuidOf(const Digest& id) {
  std::string hex = id.hex().substr(0, 32);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

}  // namespace

std::string imageDiskPath(const std::string& storeRoot, const Digest& imageId) {
  return storeRoot + "/disks/" + imageId.hex() + ".ext4";
}

Result<std::string> imageDisk(const ImageRecord& image, const BlobStore& store) {
  std::string path = imageDiskPath(store.root(), image.id);
  if (pathExists(path)) {
    return path;
  }
  TANDEM_ASSIGN_OR_RETURN(std::string tree, flattenedRootfs(image, store));
  TANDEM_TRY(makeDirectories(store.root() + "/disks", 0700));
  std::string templ = path + ".tmp-XXXXXX";
  int raw = ::mkostemp(templ.data(), O_CLOEXEC);
  if (raw < 0) {
    return Error::fromErrno("cannot create a file beside " + path);
  }
  UniqueFd fd(raw);
  Scratch disk(templ);
  std::string uuid = uuidOf(image.id);
  TANDEM_TRY(writeFolderDisk(
                 {.folder = tree, .label = "tandem-root", .uuid = uuid, .rootOwnedByRoot = true},
                 fd.get(), disk.path())
                 .context("making the disk of image " + image.id.text()));
  if (::fsync(fd.get()) != 0 || ::fchmod(fd.get(), 0444) != 0) {
    return Error::fromErrno("cannot flush " + disk.path());
  }
  if (::rename(disk.path().c_str(), path.c_str()) != 0) {
    return Error::fromErrno("cannot rename " + disk.path() + " to " + path);
  }
  disk.release();
  return path;
}

}  // namespace tandem::image

#include "common/image/image_disk.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/image/image_rootfs.h"
#include "common/image/layout_writer.h"
#include "common/run_program.h"
#include "common/unique_fd.h"

namespace tandem::image {

namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;
// Group descriptors, bitmaps, the superblock's copies and a journal of a small file system
// (mkfs.ext4 gives 4 MiB to those under 128 MiB, more above, within this plus the share below).
constexpr std::uint64_t kMetadataReserve = 16 * kMiB;
// Symlink targets shorter than this live in the inode itself (ext4's "fast symlinks").
constexpr off_t kInlineSymlinkBytes = 60;

std::uint64_t blocksFor(std::uint64_t bytes) {
  return (bytes + kDiskBlockBytes - 1) / kDiskBlockBytes;
}

// nftw has no context argument: the walk's running total, for one walk at a time per thread.
thread_local TreeUsage* walkUsage = nullptr;

int countEntry(const char*, const struct stat* info, int kind, struct FTW*) {
  ++walkUsage->entries;
  if (kind == FTW_D || kind == FTW_DP) {
    walkUsage->dataBlocks += blocksFor(static_cast<std::uint64_t>(info->st_size));
  } else if (S_ISREG(info->st_mode) ||
             (S_ISLNK(info->st_mode) && info->st_size >= kInlineSymlinkBytes)) {
    walkUsage->dataBlocks += blocksFor(static_cast<std::uint64_t>(info->st_size));
  }
  return 0;
}

// A UUID made of the image id's first 16 bytes: the same image gets the same file system UUID,
// which a guest's fstab could name.
std::string uuidOf(const Digest& id) {
  std::string hex = id.hex().substr(0, 32);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

}  // namespace

DiskPlan planDisk(const TreeUsage& usage) {
  DiskPlan plan;
  plan.inodes = usage.entries + usage.entries / 4 + 64;
  std::uint64_t data = usage.dataBlocks * kDiskBlockBytes;
  std::uint64_t bytes = data + data / 4 + plan.inodes * kDiskInodeBytes + kMetadataReserve;
  plan.bytes = (bytes + kMiB - 1) / kMiB * kMiB;
  return plan;
}

Result<TreeUsage> measureTree(const std::string& root) {
  TreeUsage usage;
  walkUsage = &usage;
  int rc = ::nftw(root.c_str(), countEntry, 64, FTW_PHYS);
  walkUsage = nullptr;
  if (rc != 0) {
    return Error::fromErrno("cannot measure the files under " + root);
  }
  return usage;
}

std::string imageDiskPath(const std::string& storeRoot, const Digest& imageId) {
  return storeRoot + "/disks/" + imageId.hex() + ".ext4";
}

Result<std::string> imageDisk(const ImageRecord& image, const BlobStore& store) {
  std::string path = imageDiskPath(store.root(), image.id);
  if (pathExists(path)) {
    return path;
  }
  TANDEM_ASSIGN_OR_RETURN(std::string tree, flattenedRootfs(image, store));
  TANDEM_ASSIGN_OR_RETURN(TreeUsage usage, measureTree(tree));
  DiskPlan plan = planDisk(usage);
  TANDEM_TRY(makeDirectories(store.root() + "/disks", 0700));
  std::string templ = path + ".tmp-XXXXXX";
  int raw = ::mkostemp(templ.data(), O_CLOEXEC);
  if (raw < 0) {
    return Error::fromErrno("cannot create a file beside " + path);
  }
  UniqueFd fd(raw);
  Scratch disk(templ);
  if (::ftruncate(fd.get(), static_cast<off_t>(plan.bytes)) != 0) {
    return Error::fromErrno("cannot size " + disk.path() + " to " + std::to_string(plan.bytes) +
                            " bytes");
  }
  std::string uuid = uuidOf(image.id);
  TANDEM_TRY(runProgram({"mkfs.ext4",
                         "-q",
                         "-F",
                         "-b",
                         std::to_string(kDiskBlockBytes),
                         "-I",
                         std::to_string(kDiskInodeBytes),
                         "-N",
                         std::to_string(plan.inodes),
                         "-m",
                         "0",
                         "-L",
                         "tandem-root",
                         "-U",
                         uuid,
                         "-E",
                         "root_owner=0:0,hash_seed=" + uuid,
                         "-d",
                         tree,
                         disk.path()},
                        "e2fsprogs")
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

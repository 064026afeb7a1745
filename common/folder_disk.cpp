#include "common/folder_disk.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "common/run_program.h"

namespace tandem {

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

Status writeFolderDisk(const FolderDisk& disk, int fd, const std::string& path) {
  TANDEM_ASSIGN_OR_RETURN(TreeUsage usage, measureTree(disk.folder));
  DiskPlan plan = planDisk(usage);
  if (::ftruncate(fd, static_cast<off_t>(plan.bytes)) != 0) {
    return Error::fromErrno("cannot size " + path + " to " + std::to_string(plan.bytes) + " bytes");
  }
  std::vector<std::string> command{"mkfs.ext4",
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
                                   disk.label};
  struct stat folder {};
  if (!disk.rootOwnedByRoot && ::stat(disk.folder.c_str(), &folder) != 0) {
    return Error::fromErrno("cannot inspect " + disk.folder);
  }
  std::string extended =
      "root_owner=" + std::to_string(folder.st_uid) + ":" + std::to_string(folder.st_gid);
  if (!disk.uuid.empty()) {
    command.insert(command.end(), {"-U", disk.uuid});
    extended += ",hash_seed=" + disk.uuid;
  }
  command.insert(command.end(), {"-E", extended, "-d", disk.folder, path});
  return runProgram(command, "e2fsprogs");
}

}  // namespace tandem

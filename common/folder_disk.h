// A folder's files as an ext4 file system in a file, made by e2fsprogs' `mkfs.ext4 -d` as an
// unprivileged file operation: the form a virtio-blk device takes. An image's root disk and a
// microVM's folder volume are both made this way.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace tandem {

inline constexpr std::uint64_t kDiskBlockBytes = 4096;
inline constexpr std::uint64_t kDiskInodeBytes = 256;

// What a tree needs of a file system: blocks of file and folder contents, and inodes.
struct TreeUsage {
  std::uint64_t dataBlocks = 0;
  std::uint64_t entries = 0;
};

struct DiskPlan {
  std::uint64_t bytes = 0;   // whole MiB
  std::uint64_t inodes = 0;  // what mkfs.ext4 -N is given
};

// Room for the tree plus a quarter of free blocks and inodes, so a workload can write, and for
// ext4's own metadata and journal.
DiskPlan planDisk(const TreeUsage& usage);

// Counts what the tree under `root` uses, without following symlinks.
Result<TreeUsage> measureTree(const std::string& root);

struct FolderDisk {
  std::string folder;  // whose files the disk holds, owners and modes kept
  std::string label;   // the file system's label
  std::string uuid;    // fixed, with a hash seed from it, for a reproducible disk; or random
  // The disk's root folder belongs to root, as an image's root does, rather than to the folder's
  // owner.
  bool rootOwnedByRoot = false;
};

// Sizes the file open as `fd` (at `path`, named in errors) by planDisk and makes the file
// system in it.
Status writeFolderDisk(const FolderDisk& disk, int fd, const std::string& path);

}  // namespace tandem

// Packing a folder into one OCI image layer: a gzip-compressed tar that depends only on the
// folder's contents, so building the same tree twice, here or on another machine with the same
// zlib, gives the same digest.
//
//  - Entries come in a fixed order: each directory's names sorted bytewise, a directory before
//    its contents. The folder's own root is not stored; its metadata is the runtime's.
//  - mtimes are clamped to `epoch` (SOURCE_DATE_EPOCH's meaning) and lose their nanoseconds;
//    atime and ctime are not stored, nor user and group names, which differ between machines.
//  - Modes, numeric owners (or 0:0 with rootOwned), xattrs, symlinks (stored, never followed),
//    hardlinks (by device and inode), device nodes and FIFOs are kept. Sockets cannot be stored
//    in a tar and are skipped with a warning.
//  - A folder mounted inside the tree is stored as an empty directory, as tar --one-file-system
//    does: a bind mount of / must not pull the whole host into an image.
//  - gzip's header carries no name and no timestamp.
//
// The tar stream is hashed on its way into the compressor (the diff_id the config lists) and the
// compressed stream on its way out (the blob's digest), so the folder is read once.
#pragma once

#include <cstdint>
#include <string>

#include "common/image/digest.h"
#include "common/result.h"

namespace tandem::image {

struct LayerWriteOptions {
  // mtimes later than this become this; seconds since the epoch.
  std::int64_t epoch = 0;
  // Every entry owned by 0:0, for a tree built by an unprivileged user.
  bool rootOwned = false;
};

struct WrittenLayer {
  Digest blob;  // of the gzip stream, as stored
  std::uint64_t blobSize = 0;
  Digest diffId;  // of the uncompressed tar
  std::uint64_t entries = 0;
  std::uint64_t skipped = 0;  // sockets
};

// Writes `folder` as a layer to `outFd`, from its current offset. The folder must not change
// while it is read: a file that does is an error, not a torn layer.
Result<WrittenLayer> writeFolderLayer(const std::string& folder, int outFd,
                                      const LayerWriteOptions& options);

}  // namespace tandem::image

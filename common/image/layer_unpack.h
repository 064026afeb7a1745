// Unpacking one OCI image layer (a tar, gzip-, zstd- or xz-compressed or not) into a folder.
// The layer is untrusted input, and this is where it meets the disk, so:
//
//  - Names are cleaned first (layer_paths.h): absolute names and ".." components are refused.
//  - Every parent directory is resolved inside the root as the container will see it
//    (inside_root.h): a symlink from this layer or an earlier one, even "-> /" or
//    "-> ../../..", is followed as under chroot, so a write through it lands inside the root.
//    Such entries are contained, not refused, as in docker and containerd.
//  - The final component is never followed: an existing entry is unlinked (a directory removed
//    with its tree, unless the new entry is a directory too) and the new one created with
//    O_EXCL, so a symlink left in the way cannot redirect a write.
//  - A hardlink's target is cleaned like a name, resolved inside the root and linked without
//    following a symlink there; a missing target or a directory is refused.
//  - Anything the unpacker cannot do faithfully (a device node without root, overlayfs's own
//    xattrs in a layer, a truncated stream, a file shorter than its header says) is an error
//    naming the layer and the entry. A layer is never half-applied silently.
//
// Leniencies, as in docker and containerd: the root's own entry ("./") is skipped, since the
// folder's metadata is its maker's; a hardlink entry's header metadata is ignored, the inode's
// being the target's; and a tar that stops at an entry boundary without its end-of-archive
// blocks is accepted, so a blob cut exactly there is caught by the store's digest check.
//
// The folder must not be changed by anyone else during the unpack. On an error, what was
// written so far stays inside the folder; removing the partial folder is the caller's job.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace tandem::image {

enum class WhiteoutMode {
  // Layers are flattened one after another into one folder (the microVM's rootfs): ".wh.NAME"
  // removes NAME, and ".wh..wh..opq" empties its directory, of what earlier layers wrote. What
  // the same layer writes is kept, whether the marker comes before or after it in the tar (OCI
  // image spec: whiteouts apply only to the layers below).
  Apply,
  // Each layer gets a folder of its own, later stacked as overlayfs lower directories:
  // ".wh.NAME" becomes a whiteout (character device 0:0) named NAME and ".wh..wh..opq" the xattr
  // trusted.overlay.opaque=y on its directory. Needs root (CAP_MKNOD, CAP_SYS_ADMIN).
  Overlay,
};

struct LayerUnpackOptions {
  WhiteoutMode whiteouts = WhiteoutMode::Apply;
  // Gives entries the uid and gid the layer records, and creates device nodes; needs root. When
  // false (rootless), entries belong to the caller and a device node is an error.
  bool preserveOwnership = false;
  // Rootless only: skips device nodes (counted in the stats) instead of failing on them, for
  // callers that will bind-mount the devices a container needs anyway.
  bool skipDeviceNodes = false;
};

struct LayerUnpackStats {
  std::uint64_t entries = 0;       // tar entries read, whiteouts and skipped ones included
  std::uint64_t bytesWritten = 0;  // regular file content
  std::uint64_t whiteouts = 0;     // whiteouts and opaque markers applied
  std::uint64_t skippedDeviceNodes = 0;
  std::uint64_t skippedXattrs = 0;  // security.* xattrs the kernel refused (logged as warnings)
};

// Unpacks the layer read from `layerFd` (from its current offset; the fd is not closed) into
// the folder open as `rootDirFd` (a plain or O_PATH directory fd). `layerName` (a digest, say)
// and `rootPath` only name the layer and the folder in errors and warnings. Directory modes and
// times are applied after all entries, so that a read-only directory can still be filled.
Result<LayerUnpackStats> unpackLayer(int layerFd, std::string_view layerName, int rootDirFd,
                                     std::string_view rootPath, const LayerUnpackOptions& options);

}  // namespace tandem::image

// A libarchive reader for the tar streams images are made of (layers, OCI layout archives,
// `docker save` output): the tar format only, plain or gzip-, zstd- or xz-compressed.
#pragma once

#include <archive.h>

#include <memory>
#include <string>

#include "common/result.h"

namespace tandem::image {

struct ArchiveReadFree {
  void operator()(archive* reader) const { archive_read_free(reader); }
};
using ArchiveReader = std::unique_ptr<archive, ArchiveReadFree>;

// Reads from `fd`'s current offset; the fd is not closed. `what` describes the stream in the
// error when it is not a tar at all ("the layer", "the image archive").
Result<ArchiveReader> openTarStream(int fd, const std::string& what);

// libarchive's last error on `reader`, after `what`, with its errno when it is a real one.
Error archiveError(archive* reader, std::string what);

}  // namespace tandem::image

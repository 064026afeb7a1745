#include "common/image/tar_reader.h"

#include <cerrno>

namespace tandem::image {

namespace {

constexpr std::size_t kReadBlockSize = 128 * 1024;

}  // namespace

Error archiveError(archive* reader, std::string what) {
  const char* message = archive_error_string(reader);
  what += ": ";
  what += message != nullptr ? message : "libarchive gave no reason";
  int errnum = archive_errno(reader);
  return Error(std::move(what), errnum > 0 && errnum != EILSEQ && errnum != EINVAL ? errnum : 0);
}

Result<ArchiveReader> openTarStream(int fd, const std::string& what) {
  ArchiveReader reader(archive_read_new());
  if (!reader) {
    return Error("cannot set up a tar reader", ENOMEM);
  }
  // Registered one by one: the *_all variants would also link libxml2 and friends for formats
  // an image never uses. ARCHIVE_WARN here would mean an external (de)compressor program.
  for (auto support : {archive_read_support_format_tar, archive_read_support_filter_none,
                       archive_read_support_filter_gzip, archive_read_support_filter_zstd,
                       archive_read_support_filter_xz}) {
    if (support(reader.get()) != ARCHIVE_OK) {
      return archiveError(reader.get(), "libarchive lacks built-in tar, gzip, zstd or xz support");
    }
  }
  if (archive_read_open_fd(reader.get(), fd, kReadBlockSize) != ARCHIVE_OK) {
    return archiveError(reader.get(), what + " is truncated, corrupt or not a tar archive");
  }
  return reader;
}

}  // namespace tandem::image

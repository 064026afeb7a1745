#include "tools/mkinitramfs/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <utility>

namespace tandem::mkinitramfs {

Result<AtomicFile> AtomicFile::create(const std::string& path, mode_t mode) {
  // Beside the destination, so the rename never crosses filesystems.
  std::string temporary = path + ".tmp-XXXXXX";
  int fd = ::mkostemp(temporary.data(), O_CLOEXEC);
  if (fd < 0) {
    return Error::fromErrno("cannot create a temporary file beside " + path);
  }
  AtomicFile file(UniqueFd(fd), path, temporary);
  if (::fchmod(fd, mode) != 0) {
    return Error::fromErrno("cannot set the mode of " + temporary);
  }
  return file;
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : fd_(std::move(other.fd_)),
      path_(std::move(other.path_)),
      temporary_(std::exchange(other.temporary_, std::string())) {}

AtomicFile::~AtomicFile() {
  if (!temporary_.empty()) {
    ::unlink(temporary_.c_str());
  }
}

Status AtomicFile::commit() {
  if (::fsync(fd_.get()) != 0) {
    return Error::fromErrno("cannot flush " + temporary_ + " to disk");
  }
  if (::rename(temporary_.c_str(), path_.c_str()) != 0) {
    return Error::fromErrno("cannot rename " + temporary_ + " to " + path_);
  }
  temporary_.clear();
  return okStatus();
}

}  // namespace tandem::mkinitramfs

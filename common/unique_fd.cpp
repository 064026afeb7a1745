#include "common/unique_fd.h"

#include <unistd.h>

namespace tandem {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) {
    // close() may fail with EINTR, but the fd is released either way on Linux; retrying
    // could close an fd another thread just got.
    ::close(fd_);
  }
  fd_ = fd;
}

}  // namespace tandem

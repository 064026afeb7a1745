// A file written beside its destination and renamed over it on commit(): readers see the old
// file or the whole new one, and a run that fails leaves nothing behind.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem::mkinitramfs {

class AtomicFile {
 public:
  static Result<AtomicFile> create(const std::string& path, mode_t mode);

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  ~AtomicFile();

  int fd() const { return fd_.get(); }

  // Flushes to disk, then replaces the destination.
  Status commit();

 private:
  AtomicFile(UniqueFd fd, std::string path, std::string temporary)
      : fd_(std::move(fd)), path_(std::move(path)), temporary_(std::move(temporary)) {}

  UniqueFd fd_;
  std::string path_;
  std::string temporary_;  // empty once committed or moved from
};

}  // namespace tandem::mkinitramfs

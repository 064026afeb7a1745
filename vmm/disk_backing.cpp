#include "vmm/disk_backing.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace tandem::vmm {

Result<std::uint64_t> regularFileBytes(int fd, const std::string& path) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    return Error::fromErrno("cannot stat the disk " + path);
  }
  if (!S_ISREG(info.st_mode)) {
    return Error("the disk " + path + " is not a regular file", EINVAL);
  }
  return static_cast<std::uint64_t>(info.st_size);
}

Status readFully(int fd, std::span<std::uint8_t> into, std::uint64_t offset,
                 const std::string& path) {
  while (!into.empty()) {
    ssize_t done = ::pread(fd, into.data(), into.size(), static_cast<off_t>(offset));
    if (done < 0 && errno == EINTR) continue;
    if (done < 0) {
      return Error::fromErrno("cannot read " + path + " at byte " + std::to_string(offset));
    }
    if (done == 0) {
      return Error(path + " ends before byte " + std::to_string(offset), EIO);
    }
    into = into.subspan(static_cast<std::size_t>(done));
    offset += static_cast<std::uint64_t>(done);
  }
  return okStatus();
}

Status writeFully(int fd, std::span<const std::uint8_t> data, std::uint64_t offset,
                  const std::string& path) {
  while (!data.empty()) {
    ssize_t done = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (done < 0 && errno == EINTR) continue;
    if (done < 0) {
      return Error::fromErrno("cannot write " + path + " at byte " + std::to_string(offset));
    }
    if (done == 0) {
      return Error("no byte of a write reached " + path + " at byte " + std::to_string(offset),
                   EIO);
    }
    data = data.subspan(static_cast<std::size_t>(done));
    offset += static_cast<std::uint64_t>(done);
  }
  return okStatus();
}

Result<std::unique_ptr<FileBacking>> FileBacking::open(UniqueFd file, std::string path) {
  TANDEM_ASSIGN_OR_RETURN(std::uint64_t bytes, regularFileBytes(file.get(), path));
  return std::unique_ptr<FileBacking>(new FileBacking(std::move(file), std::move(path), bytes));
}

Status FileBacking::read(std::uint64_t offset, std::span<std::uint8_t> into) {
  return readFully(file_.get(), into, offset, path_);
}

Status FileBacking::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  return writeFully(file_.get(), data, offset, path_);
}

Status FileBacking::flush() {
  if (::fdatasync(file_.get()) != 0) {
    return Error::fromErrno("cannot flush " + path_);
  }
  return okStatus();
}

}  // namespace tandem::vmm

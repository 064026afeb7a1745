#include "common/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace tandem {

Result<UniqueFd> openPath(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) {
    return Error::fromErrno("cannot open " + path);
  }
  return UniqueFd(fd);
}

Result<std::string> readFile(const std::string& path) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd fd, openPath(path, O_RDONLY));
  return readFile(fd.get(), path);
}

Result<std::string> readFile(int fd, const std::string& path) {
  std::string content;
  // Sized from fstat where it can be, so a kernel image is read in a few large reads into one
  // allocation; files that report no size (/proc) grow as they are read.
  struct stat info {};
  std::size_t chunk = 65536;
  if (::fstat(fd, &info) == 0 && info.st_size > 0) {
    content.reserve(static_cast<std::size_t>(info.st_size) + 1);
    chunk = std::max(chunk, static_cast<std::size_t>(info.st_size) + 1);
  }
  for (;;) {
    std::size_t used = content.size();
    content.resize(used + chunk);
    ssize_t n = ::read(fd, content.data() + used, chunk);
    if (n < 0) {
      content.resize(used);
      if (errno == EINTR) {
        continue;
      }
      return Error::fromErrno("cannot read " + path);
    }
    content.resize(used + static_cast<std::size_t>(n));
    if (n == 0) {
      break;
    }
  }
  return content;
}

Status writeAll(int fd, std::string_view bytes, std::string_view destination) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error::fromErrno("cannot write to " + std::string(destination));
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return okStatus();
}

Status writeAll(int fd, std::span<const std::uint8_t> bytes, std::string_view destination) {
  return writeAll(fd, {reinterpret_cast<const char*>(bytes.data()), bytes.size()}, destination);
}

Result<std::uint64_t> regularFileSize(int fd, const std::string& path) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    return Error::fromErrno("cannot inspect " + path);
  }
  if (!S_ISREG(info.st_mode)) {
    return Error(path + " is not a regular file");
  }
  return static_cast<std::uint64_t>(info.st_size);
}

Status readExactlyAt(int fd, std::span<std::uint8_t> into, std::uint64_t offset,
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

Status writeExactlyAt(int fd, std::span<const std::uint8_t> data, std::uint64_t offset,
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

Status readExactly(int fd, std::span<std::uint8_t> target, std::string_view source) {
  for (std::size_t done = 0; done < target.size();) {
    ssize_t n = ::read(fd, target.data() + done, target.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error::fromErrno("cannot read " + std::string(source));
    }
    if (n == 0) {
      return Error(std::string(source) + " ended after " + std::to_string(done) + " of the " +
                       std::to_string(target.size()) + " bytes it had; was it changed meanwhile?",
                   EIO);
    }
    done += static_cast<std::size_t>(n);
  }
  return okStatus();
}

Status readInChunks(int fd, std::string_view source,
                    const std::function<Status(std::span<const std::uint8_t>)>& consume) {
  std::vector<std::uint8_t> buffer(256 * 1024);
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Error::fromErrno("cannot read " + std::string(source));
    }
    if (n == 0) {
      return okStatus();
    }
    TANDEM_TRY(consume(std::span<const std::uint8_t>(buffer.data(), static_cast<std::size_t>(n))));
  }
}

Status writeExistingFile(const std::string& path, std::string_view content) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd fd, openPath(path, O_WRONLY));
  return writeAll(fd.get(), content, path);
}

Status writeFile(const std::string& path, std::string_view content, mode_t mode) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd fd, openPath(path, O_WRONLY | O_CREAT | O_TRUNC, mode));
  return writeAll(fd.get(), content, path);
}

Status makeDirectories(const std::string& path, mode_t mode) {
  if (path.empty()) {
    return Error("cannot create a directory with an empty path");
  }
  for (std::size_t pos = 0; pos != std::string::npos;) {
    pos = path.find('/', pos + 1);
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return Error::fromErrno("cannot create directory " + prefix);
    }
  }
  if (!isDirectory(path)) {
    return Error("cannot create directory " + path + ": a non-directory is in the way");
  }
  return okStatus();
}

namespace {

Status removeAt(int parentFd, const char* name, const std::string& path, dev_t device) {
  struct stat st {};
  if (::fstatat(parentFd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      return okStatus();
    }
    return Error::fromErrno("cannot inspect " + path);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(parentFd, name, 0) != 0 && errno != ENOENT) {
      return Error::fromErrno("cannot remove " + path);
    }
    return okStatus();
  }
  if (st.st_dev != device) {
    return Error("refusing to remove " + path + ": it is a mount point; unmount it first");
  }
  int dirFd = ::openat(parentFd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dirFd < 0) {
    // Gone since the fstatat: another remover (a container's janitor, say) took it first.
    if (errno == ENOENT) {
      return okStatus();
    }
    return Error::fromErrno("cannot open " + path);
  }
  DIR* dir = ::fdopendir(dirFd);
  if (dir == nullptr) {
    ::close(dirFd);
    return Error::fromErrno("cannot list " + path);
  }
  std::vector<std::string> children;
  while (dirent* entry = ::readdir(dir)) {
    std::string child = entry->d_name;
    if (child != "." && child != "..") {
      children.push_back(std::move(child));
    }
  }
  Status status;
  for (const auto& child : children) {
    status = removeAt(::dirfd(dir), child.c_str(), path + "/" + child, device);
    if (!status) {
      break;
    }
  }
  ::closedir(dir);
  TANDEM_TRY(std::move(status));
  if (::unlinkat(parentFd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return Error::fromErrno("cannot remove directory " + path);
  }
  return okStatus();
}

}  // namespace

Status removeTree(const std::string& given) {
  // "link/" would make the kernel follow the link and empty the directory it points to.
  std::string path = given;
  while (path.size() > 1 && path.back() == '/') {
    path.pop_back();
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return okStatus();
    }
    return Error::fromErrno("cannot inspect " + path);
  }
  return removeAt(AT_FDCWD, path.c_str(), path, st.st_dev);
}

bool pathExists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

bool isDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace tandem

#include "common/inside_root.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace tandem {

namespace {

// openat2 returns EAGAIN when a rename elsewhere raced with its walk; the walk is then retried.
constexpr int kResolveAttempts = 32;

std::string quoted(std::string_view path) {
  return path.empty() ? std::string("the root") : "\"" + std::string(path) + "\"";
}

std::string joined(const std::string& parent, const std::string& name) {
  return parent.empty() ? name : parent + "/" + name;
}

Result<std::vector<std::string>> listDir(int dirFd, const std::string& path) {
  // fdopendir owns the fd it is given, so it gets a fresh one rather than the caller's.
  int fd = ::openat(dirFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return Error::fromErrno("cannot open " + quoted(path) + " to list it");
  }
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int saved = errno;
    ::close(fd);
    return Error::fromErrno("cannot list " + quoted(path), saved);
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") {
      names.push_back(std::move(name));
    }
  }
  int saved = errno;
  ::closedir(dir);
  if (saved != 0) {
    return Error::fromErrno("cannot list " + quoted(path), saved);
  }
  return names;
}

Result<UniqueFd> openChildDir(int parentFd, const std::string& name, const std::string& path) {
  int fd = ::openat(parentFd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return Error::fromErrno("cannot open " + quoted(path));
  }
  return UniqueFd(fd);
}

Status removeAt(int parentFd, const std::string& name, const std::string& path, dev_t device) {
  struct stat st {};
  if (::fstatat(parentFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno == ENOENT ? okStatus() : Error::fromErrno("cannot inspect " + quoted(path));
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != device) {
      return Error("refusing to remove " + quoted(path) +
                   ": it is a mount point; unmount it first");
    }
    TANDEM_ASSIGN_OR_RETURN(UniqueFd dir, openChildDir(parentFd, name, path));
    TANDEM_ASSIGN_OR_RETURN(auto children, listDir(dir.get(), path));
    for (const auto& child : children) {
      TANDEM_TRY(removeAt(dir.get(), child, joined(path, child), device));
    }
  }
  if (::unlinkat(parentFd, name.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0 &&
      errno != ENOENT) {
    return Error::fromErrno("cannot remove " + quoted(path));
  }
  return okStatus();
}

}  // namespace

Result<UniqueFd> openDirInRoot(int rootFd, std::string_view path, DirAccess access) {
  std::string target = path.empty() ? std::string(".") : std::string(path);
  open_how how{};
  int flags = access == DirAccess::Path ? O_PATH : O_RDONLY;
  how.flags = static_cast<std::uint64_t>(flags | O_DIRECTORY | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  for (int attempt = 1;; ++attempt) {
    long fd = ::syscall(SYS_openat2, rootFd, target.c_str(), &how, sizeof how);
    if (fd >= 0) {
      return UniqueFd(static_cast<int>(fd));
    }
    if ((errno == EAGAIN && attempt < kResolveAttempts) || errno == EINTR) {
      continue;
    }
    if (errno == ENOSYS) {
      return Error::fromErrno(
          "cannot resolve paths inside the root: openat2 needs Linux 5.6 or newer, and layers are "
          "not unpacked without it because their symlinks could lead out of the folder");
    }
    return Error::fromErrno("cannot open the directory " + quoted(path));
  }
}

Result<UniqueFd> makeDirsInRoot(int rootFd, std::string_view path) {
  auto direct = openDirInRoot(rootFd, path);
  if (direct.ok() || direct.error().errnum() != ENOENT) {
    return direct;
  }
  TANDEM_ASSIGN_OR_RETURN(UniqueFd current, openDirInRoot(rootFd, ""));
  for (std::size_t start = 0;;) {
    auto slash = path.find('/', start);
    std::string_view prefix = path.substr(0, slash);
    std::string name(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    auto next = openDirInRoot(rootFd, prefix);
    if (!next.ok() && next.error().errnum() == ENOENT) {
      if (::mkdirat(current.get(), name.c_str(), 0755) == 0) {
        // Exactly 0755, whatever the caller's umask: the rootfs must not depend on it.
        if (::fchmodat(current.get(), name.c_str(), 0755, AT_SYMLINK_NOFOLLOW) != 0) {
          return Error::fromErrno("cannot set the mode of the directory " + quoted(prefix));
        }
      } else if (errno != EEXIST) {
        return Error::fromErrno("cannot create the directory " + quoted(prefix));
      }
      next = openDirInRoot(rootFd, prefix);
      if (!next.ok() && next.error().errnum() == ENOENT) {
        return Error("cannot create the directory " + quoted(prefix) +
                         ": a symlink there points to a directory that does not exist",
                     ENOENT);
      }
    }
    if (!next.ok()) {
      return std::move(next).error();
    }
    current = std::move(*next);
    if (slash == std::string_view::npos) {
      return current;
    }
    start = slash + 1;
  }
}

Status removeTreeAt(int parentFd, const std::string& name, const std::string& path) {
  struct stat parent {};
  if (::fstatat(parentFd, "", &parent, AT_EMPTY_PATH) != 0) {
    return Error::fromErrno("cannot inspect the directory holding " + quoted(path));
  }
  return removeAt(parentFd, name, path, parent.st_dev);
}

Status removeUnclaimedIn(int dirFd, const std::string& dirPath,
                         const std::function<bool(const std::string&)>& kept) {
  TANDEM_ASSIGN_OR_RETURN(auto children, listDir(dirFd, dirPath));
  for (const auto& child : children) {
    std::string path = joined(dirPath, child);
    if (!kept(path)) {
      TANDEM_TRY(removeTreeAt(dirFd, child, path));
      continue;
    }
    struct stat st {};
    if (::fstatat(dirFd, child.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return Error::fromErrno("cannot inspect " + quoted(path));
    }
    if (S_ISDIR(st.st_mode)) {
      TANDEM_ASSIGN_OR_RETURN(UniqueFd dir, openChildDir(dirFd, child, path));
      TANDEM_TRY(removeUnclaimedIn(dir.get(), path, kept));
    }
  }
  return okStatus();
}

}  // namespace tandem

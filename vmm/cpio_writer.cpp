#include "vmm/cpio_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>

#include "common/bytes.h"
#include "common/file.h"
#include "common/unique_fd.h"

namespace tandem::vmm {

namespace {

constexpr std::size_t kCopyChunk = 256 * 1024;
constexpr std::uint32_t kMaxField = std::numeric_limits<std::uint32_t>::max();

// The kernel refuses names whose size, NUL included, exceeds PATH_MAX (init/initramfs.c).
Result<std::string> normalizeName(std::string_view given) {
  std::string_view name = given;
  while (!name.empty() && name.front() == '/') name.remove_prefix(1);
  while (!name.empty() && name.back() == '/') name.remove_suffix(1);
  auto invalid = [&](const char* why) {
    return Error("invalid archive name \"" + std::string(given) + "\": " + why);
  };
  if (name.empty()) {
    return invalid("it names the archive's root");
  }
  if (name.find('\0') != std::string_view::npos) {
    return invalid("it contains a NUL byte");
  }
  if (name.size() + 1 > PATH_MAX) {
    return invalid("it is longer than the kernel's PATH_MAX");
  }
  if (name == kCpioTrailerName) {
    return invalid("it is the end-of-archive marker");
  }
  for (std::size_t start = 0; start <= name.size();) {
    std::size_t end = std::min(name.find('/', start), name.size());
    std::string_view component = name.substr(start, end - start);
    if (component.empty() || component == "." || component == "..") {
      return invalid("empty, \".\" and \"..\" components are not allowed");
    }
    start = end + 1;
  }
  return std::string(name);
}

Status checkPermissions(std::string_view name, const CpioAttributes& attributes) {
  if ((attributes.permissions & ~07777u) != 0) {
    char octal[16];
    std::snprintf(octal, sizeof octal, "0%o", attributes.permissions);
    return Error("invalid permissions " + std::string(octal) + " for \"" + std::string(name) +
                 "\": only the 07777 bits belong there; the type comes from the entry");
  }
  return okStatus();
}

// The name as stored, once it and the permissions are found valid.
Result<std::string> checkedName(std::string_view name, const CpioAttributes& attributes) {
  TANDEM_TRY(checkPermissions(name, attributes));
  return normalizeName(name);
}

// newc keeps 32 bits of mtime: earlier than 1970 becomes 1970, later than 2106 becomes 2106.
std::uint32_t clampTime(std::int64_t seconds) {
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(seconds, 0, kMaxField));
}

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};
using DirHandle = std::unique_ptr<DIR, DirCloser>;

}  // namespace

Status VectorSink::write(std::span<const std::uint8_t> bytes) {
  out_.insert(out_.end(), bytes.begin(), bytes.end());
  return okStatus();
}

Status SpanSink::write(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > target_.size() - written_) {
    return Error("the archive outgrew the " + std::to_string(target_.size()) +
                     " bytes set aside for it; a file in it grew while it was being written",
                 ENOSPC);
  }
  std::copy(bytes.begin(), bytes.end(), target_.begin() + static_cast<long>(written_));
  written_ += bytes.size();
  return okStatus();
}

Status FdSink::write(std::span<const std::uint8_t> bytes) {
  return writeAll(fd_, bytes, path_);
}

struct CpioWriter::Entry {
  std::string name;  // normalized
  std::uint32_t inode = 0;
  std::uint32_t mode = 0;  // type and permission bits
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint32_t links = 1;
  std::uint32_t mtime = 0;
  std::uint64_t size = 0;
  unsigned rdevMajor = 0;
  unsigned rdevMinor = 0;
};

Status CpioWriter::writeHeader(const Entry& entry) {
  if (entry.size > kMaxField) {
    return Error("\"" + entry.name +
                 "\" is 4 GiB or larger, which the newc cpio format cannot hold");
  }
  // "070701" then 13 fields of 8 hex digits; the device of the entry itself stays 0 (inodes are
  // numbered per archive), and the checksum is 0, as the non-crc format has it.
  char header[kCpioHeaderBytes + 1];
  std::snprintf(header, sizeof header, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                entry.inode, entry.mode, entry.uid, entry.gid, entry.links, entry.mtime,
                static_cast<std::uint32_t>(entry.size), 0u, 0u, entry.rdevMajor, entry.rdevMinor,
                static_cast<std::uint32_t>(entry.name.size() + 1), 0u);
  TANDEM_TRY(sink_.write(bytesOf(std::string_view(header, kCpioHeaderBytes))));
  offset_ += kCpioHeaderBytes;
  // The name's terminating NUL is part of the archive.
  return writePadded(bytesOf(std::string_view(entry.name.c_str(), entry.name.size() + 1)));
}

Status CpioWriter::writePadded(std::span<const std::uint8_t> bytes) {
  TANDEM_TRY(sink_.write(bytes));
  offset_ += bytes.size();
  return pad();
}

Status CpioWriter::pad() {
  static constexpr std::uint8_t kZeros[4] = {};
  std::size_t padding = (4 - offset_ % 4) % 4;
  TANDEM_TRY(sink_.write(std::span(kZeros, padding)));
  offset_ += padding;
  return okStatus();
}

Status CpioWriter::addEntry(const Entry& entry, std::span<const std::uint8_t> content) {
  TANDEM_TRY(writeHeader(entry));
  TANDEM_TRY(writePadded(content));
  ++entries_;
  return okStatus();
}

Status CpioWriter::addDirectory(std::string_view name, const CpioAttributes& attributes) {
  TANDEM_ASSIGN_OR_RETURN(std::string normalized, checkedName(name, attributes));
  return addEntry({.name = std::move(normalized),
                   .inode = nextInode_++,
                   .mode = S_IFDIR | attributes.permissions,
                   .uid = attributes.uid,
                   .gid = attributes.gid,
                   .links = 2,
                   .mtime = attributes.mtime},
                  {});
}

Status CpioWriter::addFile(std::string_view name, std::span<const std::uint8_t> content,
                           const CpioAttributes& attributes) {
  TANDEM_ASSIGN_OR_RETURN(std::string normalized, checkedName(name, attributes));
  return addEntry({.name = std::move(normalized),
                   .inode = nextInode_++,
                   .mode = S_IFREG | attributes.permissions,
                   .uid = attributes.uid,
                   .gid = attributes.gid,
                   .mtime = attributes.mtime,
                   .size = content.size()},
                  content);
}

Status CpioWriter::addFileFromPath(std::string_view name, const std::string& hostPath,
                                   const CpioAttributes& attributes) {
  TANDEM_ASSIGN_OR_RETURN(std::string normalized, checkedName(name, attributes));
  int fd = ::open(hostPath.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return Error::fromErrno("cannot open " + hostPath);
  }
  UniqueFd file(fd);
  return addRegularFile(std::move(normalized), file.get(), hostPath, attributes);
}

Status CpioWriter::addOpenFile(std::string_view name, int fd, const std::string& hostPath,
                               const CpioAttributes& attributes) {
  TANDEM_ASSIGN_OR_RETURN(std::string normalized, checkedName(name, attributes));
  return addRegularFile(std::move(normalized), fd, hostPath, attributes);
}

Status CpioWriter::addRegularFile(std::string normalized, int fd, const std::string& hostPath,
                                  const CpioAttributes& attributes) {
  TANDEM_ASSIGN_OR_RETURN(std::uint64_t size,
                          regularFileSize(fd, hostPath).context("cannot add to the archive"));
  return addFileFromFd({.name = std::move(normalized),
                        .inode = nextInode_++,
                        .mode = S_IFREG | attributes.permissions,
                        .uid = attributes.uid,
                        .gid = attributes.gid,
                        .mtime = attributes.mtime,
                        .size = size},
                       fd, hostPath);
}

Status CpioWriter::addFileFromFd(const Entry& entry, int fd, const std::string& hostPath) {
  if (entry.size > kMaxField) {
    return Error(hostPath + " is 4 GiB or larger, which the newc cpio format cannot hold");
  }
  TANDEM_TRY(writeHeader(entry));
  std::vector<std::uint8_t> buffer(std::min<std::uint64_t>(entry.size, kCopyChunk));
  for (std::uint64_t left = entry.size; left > 0;) {
    ssize_t n = ::read(fd, buffer.data(), std::min<std::uint64_t>(left, buffer.size()));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error::fromErrno("cannot read " + hostPath);
    }
    if (n == 0) {
      return Error(hostPath +
                   " shrank while it was being archived; archive a folder nothing is writing to");
    }
    TANDEM_TRY(sink_.write(std::span(buffer.data(), static_cast<std::size_t>(n))));
    offset_ += static_cast<std::uint64_t>(n);
    left -= static_cast<std::uint64_t>(n);
  }
  TANDEM_TRY(pad());
  ++entries_;
  return okStatus();
}

Status CpioWriter::addSymlink(std::string_view name, std::string_view target,
                              const CpioAttributes& attributes) {
  TANDEM_ASSIGN_OR_RETURN(std::string normalized, checkedName(name, attributes));
  // The kernel skips symlinks whose target is longer than PATH_MAX, and a NUL would cut it.
  if (target.empty() || target.size() >= PATH_MAX || target.find('\0') != std::string::npos) {
    return Error("invalid symlink target for \"" + std::string(name) +
                 "\": it must be 1 to PATH_MAX-1 bytes with no NUL");
  }
  return addEntry({.name = std::move(normalized),
                   .inode = nextInode_++,
                   .mode = S_IFLNK | attributes.permissions,
                   .uid = attributes.uid,
                   .gid = attributes.gid,
                   .mtime = attributes.mtime,
                   .size = target.size()},
                  bytesOf(target));
}

Status CpioWriter::addNode(std::string_view name, std::uint32_t type, unsigned major,
                           unsigned minor, const CpioAttributes& attributes) {
  TANDEM_ASSIGN_OR_RETURN(std::string normalized, checkedName(name, attributes));
  return addEntry({.name = std::move(normalized),
                   .inode = nextInode_++,
                   .mode = type | attributes.permissions,
                   .uid = attributes.uid,
                   .gid = attributes.gid,
                   .mtime = attributes.mtime,
                   .rdevMajor = major,
                   .rdevMinor = minor},
                  {});
}

Status CpioWriter::addCharDevice(std::string_view name, unsigned major, unsigned minor,
                                 const CpioAttributes& attributes) {
  return addNode(name, S_IFCHR, major, minor, attributes);
}

Status CpioWriter::addBlockDevice(std::string_view name, unsigned major, unsigned minor,
                                  const CpioAttributes& attributes) {
  return addNode(name, S_IFBLK, major, minor, attributes);
}

Status CpioWriter::finish() {
  // Not counted in entries(): it ends the archive rather than describing a file.
  return writeHeader({.name = kCpioTrailerName, .links = 1});
}

// A depth-first walk through directory fds, so each entry is looked up relative to a directory
// already checked, never through a path a concurrent rename could redirect.
class CpioWriter::TreeWalk {
 public:
  TreeWalk(CpioWriter& writer, const struct statx& root) : writer_(writer), root_(root) {}

  Status directory(int dirFd, const std::string& hostPath, const std::string& archivePath) {
    TANDEM_ASSIGN_OR_RETURN(std::vector<std::string> names, list(dirFd, hostPath));
    for (const auto& name : names) {
      TANDEM_TRY(entry(dirFd, name, hostPath + "/" + name,
                       archivePath.empty() ? name : archivePath + "/" + name));
    }
    return okStatus();
  }

 private:
  // Sorted, so the archive is the same for the same tree; the listing's fd is closed before
  // the walk descends, so depth costs one fd per level.
  static Result<std::vector<std::string>> list(int dirFd, const std::string& hostPath) {
    UniqueFd copy(::dup(dirFd));
    DirHandle dir(copy ? ::fdopendir(copy.get()) : nullptr);
    if (!dir) {
      return Error::fromErrno("cannot list " + hostPath);
    }
    static_cast<void>(copy.release());  // the DIR owns it now
    std::vector<std::string> names;
    for (;;) {
      errno = 0;
      dirent* entry = ::readdir(dir.get());
      if (entry == nullptr) {
        if (errno != 0) {
          return Error::fromErrno("cannot list " + hostPath);
        }
        break;
      }
      std::string_view name = entry->d_name;
      if (name != "." && name != "..") {
        names.emplace_back(name);
      }
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  Status entry(int dirFd, const std::string& name, const std::string& hostPath,
               const std::string& archivePath) {
    struct statx st {};
    if (::statx(dirFd, name.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
                STATX_BASIC_STATS | STATX_MNT_ID, &st) != 0) {
      return Error::fromErrno("cannot inspect " + hostPath);
    }
    CpioAttributes attributes{.permissions = st.stx_mode & 07777u,
                              .uid = st.stx_uid,
                              .gid = st.stx_gid,
                              .mtime = clampTime(st.stx_mtime.tv_sec)};
    switch (st.stx_mode & S_IFMT) {
      case S_IFDIR:
        TANDEM_TRY(writer_.addDirectory(archivePath, attributes).context(hostPath));
        if (onOtherMount(st)) {
          return okStatus();
        }
        return subdirectory(dirFd, name, hostPath, archivePath);
      case S_IFREG:
        return regularFile(dirFd, name, hostPath, archivePath, st, attributes);
      case S_IFLNK:
        return symlink(dirFd, name, hostPath, archivePath, attributes);
      case S_IFCHR:
      case S_IFBLK:
        return writer_
            .addNode(archivePath, st.stx_mode & S_IFMT, st.stx_rdev_major, st.stx_rdev_minor,
                     attributes)
            .context(hostPath);
      case S_IFIFO:
      case S_IFSOCK:
        // The kernel recreates both with mknod; a socket comes back unbound, as after a reboot.
        return writer_.addNode(archivePath, st.stx_mode & S_IFMT, 0, 0, attributes)
            .context(hostPath);
      default:
        return Error(hostPath + " has a file type the cpio format cannot hold");
    }
  }

  // Mount ids tell a bind mount of the same filesystem apart; kernels before 5.8 lack them, and
  // there a different device is the best sign left.
  bool onOtherMount(const struct statx& st) const {
    if ((st.stx_mask & STATX_MNT_ID) && (root_.stx_mask & STATX_MNT_ID)) {
      return st.stx_mnt_id != root_.stx_mnt_id;
    }
    return st.stx_dev_major != root_.stx_dev_major || st.stx_dev_minor != root_.stx_dev_minor;
  }

  Status subdirectory(int dirFd, const std::string& name, const std::string& hostPath,
                      const std::string& archivePath) {
    int fd = ::openat(dirFd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      return Error::fromErrno("cannot open directory " + hostPath);
    }
    UniqueFd sub(fd);
    return directory(sub.get(), hostPath, archivePath);
  }

  Status regularFile(int dirFd, const std::string& name, const std::string& hostPath,
                     const std::string& archivePath, const struct statx& st,
                     const CpioAttributes& attributes) {
    TANDEM_ASSIGN_OR_RETURN(std::string normalized, normalizeName(archivePath).context(hostPath));
    Entry entry{.name = std::move(normalized),
                .mode = S_IFREG | attributes.permissions,
                .uid = attributes.uid,
                .gid = attributes.gid,
                .mtime = attributes.mtime};
    // The kernel links a regular file to an earlier entry with the same inode when the link
    // count is at least 2, and then writes this entry's (empty) body into it.
    if (st.stx_nlink > 1) {
      entry.links = st.stx_nlink;
      auto key = std::make_pair(makedev(st.stx_dev_major, st.stx_dev_minor), st.stx_ino);
      if (auto found = linkInodes_.find(key); found != linkInodes_.end()) {
        entry.inode = found->second;
        return writer_.addEntry(entry, {});
      }
      entry.inode = writer_.nextInode_++;
      linkInodes_.emplace(key, entry.inode);
    } else {
      entry.inode = writer_.nextInode_++;
    }
    // O_NONBLOCK: a FIFO swapped in since the statx must not hang the walk.
    int fd =
        ::openat(dirFd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
      return Error::fromErrno("cannot open " + hostPath);
    }
    UniqueFd file(fd);
    struct stat opened {};
    if (::fstat(file.get(), &opened) != 0) {
      return Error::fromErrno("cannot inspect " + hostPath);
    }
    if (!S_ISREG(opened.st_mode) || opened.st_ino != st.stx_ino) {
      return Error(hostPath +
                   " changed while it was being archived; archive a folder nothing is writing to");
    }
    entry.size = static_cast<std::uint64_t>(opened.st_size);
    return writer_.addFileFromFd(entry, file.get(), hostPath);
  }

  Status symlink(int dirFd, const std::string& name, const std::string& hostPath,
                 const std::string& archivePath, const CpioAttributes& attributes) {
    std::string target(PATH_MAX, '\0');
    ssize_t n = ::readlinkat(dirFd, name.c_str(), target.data(), target.size());
    if (n < 0) {
      return Error::fromErrno("cannot read the symlink " + hostPath);
    }
    target.resize(static_cast<std::size_t>(n));
    return writer_.addSymlink(archivePath, target, attributes).context(hostPath);
  }

  CpioWriter& writer_;
  const struct statx& root_;
  // Host (device, inode) of each hard-linked file stored so far, and its archive inode.
  std::map<std::pair<dev_t, ino_t>, std::uint32_t> linkInodes_;
};

Status CpioWriter::appendTree(const std::string& hostDir, std::string_view archivePrefix) {
  int fd = ::open(hostDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return Error::fromErrno("cannot open directory " + hostDir);
  }
  UniqueFd root(fd);
  struct statx st {};
  if (::statx(root.get(), "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_MNT_ID, &st) != 0) {
    return Error::fromErrno("cannot inspect " + hostDir);
  }
  std::string prefix;
  if (!archivePrefix.empty()) {
    TANDEM_ASSIGN_OR_RETURN(prefix, normalizeName(archivePrefix));
    TANDEM_TRY(addDirectory(prefix, {.permissions = st.stx_mode & 07777u,
                                     .uid = st.stx_uid,
                                     .gid = st.stx_gid,
                                     .mtime = clampTime(st.stx_mtime.tv_sec)}));
  }
  // Error messages name "DIR/child", never "DIR//child".
  std::string hostBase = hostDir;
  while (!hostBase.empty() && hostBase.back() == '/') hostBase.pop_back();
  return TreeWalk(*this, st).directory(root.get(), hostBase, prefix);
}

}  // namespace tandem::vmm

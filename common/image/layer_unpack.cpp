#include "common/image/layer_unpack.h"

#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/image/layer_metadata.h"
#include "common/image/layer_paths.h"
#include "common/image/tar_reader.h"
#include "common/inside_root.h"
#include "common/unique_fd.h"

namespace tandem::image {

namespace {

constexpr const char* kOpaqueXattr = "trusted.overlay.opaque";

// Where an entry goes: a name in a parent directory already resolved inside the root.
struct Target {
  int parentFd;
  std::string name;
  const std::string& path;
};

// What setMetadata does after the owner and xattrs: a symlink's own mode means nothing, and a
// directory gets its mode and times once the whole layer is written (finishDirectories).
enum class Then { ModeAndTimes, TimesOnly, Nothing };

// What was at an entry's path before it was written.
enum class Existing { Nothing, Directory, OverlayWhiteout, Other };

std::string quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

// ENOENT or ENOTDIR from a path inside the root: there is nothing there to change.
bool isMissing(const Error& error) {
  return error.errnum() == ENOENT || error.errnum() == ENOTDIR;
}

Status pwriteAll(int fd, const char* bytes, std::size_t size, off_t offset) {
  while (size > 0) {
    ssize_t n = ::pwrite(fd, bytes, size, offset);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return Error::fromErrno("cannot write its data", n == 0 ? ENOSPC : errno);
    }
    bytes += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
  return okStatus();
}

class LayerUnpacker {
 public:
  LayerUnpacker(archive* reader, std::string_view layerName, int rootFd,
                const LayerUnpackOptions& options)
      : reader_(reader), layerName_(layerName), rootFd_(rootFd), options_(options) {}

  Result<LayerUnpackStats> run();

 private:
  Status unpackEntry(archive_entry* entry, const std::string& path);
  Status applyWhiteout(const Whiteout& whiteout);
  Status removeFromBelow(const std::string& target);
  Status emptyOfBelow(const std::string& dir);
  Status writeOverlayWhiteout(const std::string& target);
  Status markOpaque(const std::string& dir);

  Result<Existing> clearWay(const Target& target, bool forDirectory);
  Status writeDirectory(const Target& target, const EntryMetadata& meta);
  Status writeRegular(const Target& target, const EntryMetadata& meta, archive_entry* entry);
  Status writeData(int fd, archive_entry* entry);
  Status writeSymlink(const Target& target, const EntryMetadata& meta, const char* linkTarget);
  Status writeHardlink(const Target& target, const char* rawLinkTarget);
  Status writeNode(const Target& target, const EntryMetadata& meta, archive_entry* entry);

  Status setMetadata(const Target& target, int fd, const EntryMetadata& meta, Then then);
  Status finishDirectories();

  // Whether this layer wrote `path` or something beneath it: whiteouts leave those alone.
  bool claimedByThisLayer(const std::string& path) const;

  archive* reader_;
  std::string layerName_;
  int rootFd_;
  LayerUnpackOptions options_;
  LayerUnpackStats stats_;
  std::string currentEntry_;
  std::set<std::string> written_;
  std::map<std::string, EntryMetadata> directories_;
};

Result<LayerUnpackStats> LayerUnpacker::run() {
  for (;;) {
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(reader_, &entry);
    if (rc == ARCHIVE_EOF) {
      break;
    }
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      return archiveError(reader_, currentEntry_.empty()
                                       ? "the layer is truncated, corrupt or not a tar archive"
                                       : "the layer is truncated or corrupt after the entry " +
                                             quoted(currentEntry_));
    }
    // ARCHIVE_WARN: typically a name that is not valid in the current locale. The raw bytes are
    // still there, and they are what the file system wants.
    ++stats_.entries;
    const char* raw = archive_entry_pathname(entry);
    if (raw == nullptr) {
      return Error("entry " + std::to_string(stats_.entries) + " has a name that cannot be read");
    }
    currentEntry_ = raw;
    auto status = [&]() -> Status {
      TANDEM_ASSIGN_OR_RETURN(std::string path, cleanEntryPath(raw));
      return unpackEntry(entry, path);
    }();
    if (!status.ok()) {
      return std::move(status).error().context("entry " + quoted(currentEntry_));
    }
  }
  TANDEM_TRY(finishDirectories());
  return stats_;
}

Status LayerUnpacker::unpackEntry(archive_entry* entry, const std::string& path) {
  TANDEM_ASSIGN_OR_RETURN(Whiteout whiteout, classifyWhiteout(path));
  if (whiteout.kind == WhiteoutKind::AufsMetadata) {
    return okStatus();  // as docker does: aufs's own bookkeeping, never image content
  }
  if (whiteout.kind != WhiteoutKind::None) {
    ++stats_.whiteouts;
    return applyWhiteout(whiteout);
  }
  mode_t type = archive_entry_filetype(entry);
  const char* hardlink = archive_entry_hardlink(entry);
  if (path.empty()) {
    // The root's own metadata belongs to whoever made the folder, not to the layer.
    if (hardlink == nullptr && type == AE_IFDIR) {
      return okStatus();
    }
    return Error("the layer's root is not a directory");
  }
  if (hardlink == nullptr && (type == AE_IFCHR || type == AE_IFBLK) &&
      !options_.preserveOwnership) {
    if (options_.skipDeviceNodes) {
      ++stats_.skippedDeviceNodes;
      return okStatus();
    }
    return Error(
        "it is a device node, which a rootless unpack cannot create; unpack as root with "
        "ownership preserved, or allow skipping device nodes");
  }
  TANDEM_ASSIGN_OR_RETURN(EntryMetadata meta, metadataOf(entry));
  auto [parent, name] = splitParent(path);
  TANDEM_ASSIGN_OR_RETURN(UniqueFd parentFd, makeDirsInRoot(rootFd_, parent));
  Target target{parentFd.get(), std::string(name), path};
  Status status;
  if (hardlink != nullptr) {
    status = writeHardlink(target, hardlink);
  } else if (type == AE_IFDIR) {
    status = writeDirectory(target, meta);
  } else if (type == AE_IFREG) {
    status = writeRegular(target, meta, entry);
  } else if (type == AE_IFLNK) {
    status = writeSymlink(target, meta, archive_entry_symlink(entry));
  } else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO) {
    status = writeNode(target, meta, entry);
  } else {
    char text[16];
    std::snprintf(text, sizeof text, "0%o", static_cast<unsigned>(type));
    status = Error(std::string("its file type (") + text + ") is not one a layer can hold");
  }
  TANDEM_TRY(std::move(status));
  written_.insert(path);
  return okStatus();
}

bool LayerUnpacker::claimedByThisLayer(const std::string& path) const {
  if (written_.contains(path)) {
    return true;
  }
  std::string below = path.empty() ? std::string() : path + "/";
  auto next = written_.lower_bound(below);
  return next != written_.end() && next->starts_with(below);
}

Status LayerUnpacker::applyWhiteout(const Whiteout& whiteout) {
  bool apply = options_.whiteouts == WhiteoutMode::Apply;
  if (whiteout.kind == WhiteoutKind::Opaque) {
    return apply ? emptyOfBelow(whiteout.target) : markOpaque(whiteout.target);
  }
  return apply ? removeFromBelow(whiteout.target) : writeOverlayWhiteout(whiteout.target);
}

Status LayerUnpacker::removeFromBelow(const std::string& target) {
  auto [parent, name] = splitParent(target);
  auto parentFd = openDirInRoot(rootFd_, parent);
  if (!parentFd.ok()) {
    return isMissing(parentFd.error()) ? okStatus() : std::move(parentFd).error();
  }
  if (!claimedByThisLayer(target)) {
    return removeTreeAt(parentFd->get(), std::string(name), target);
  }
  // This layer wrote the path too: only what the layers below left beneath it goes.
  struct stat st {};
  if (::fstatat(parentFd->get(), std::string(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISDIR(st.st_mode)) {
    return okStatus();
  }
  return emptyOfBelow(target);
}

Status LayerUnpacker::emptyOfBelow(const std::string& dir) {
  auto dirFd = openDirInRoot(rootFd_, dir, DirAccess::Read);
  if (!dirFd.ok()) {
    return isMissing(dirFd.error()) ? okStatus() : std::move(dirFd).error();
  }
  return removeUnclaimedIn(dirFd->get(), dir,
                           [this](const std::string& path) { return claimedByThisLayer(path); });
}

Status LayerUnpacker::writeOverlayWhiteout(const std::string& target) {
  auto [parent, name] = splitParent(target);
  TANDEM_ASSIGN_OR_RETURN(UniqueFd parentFd, makeDirsInRoot(rootFd_, parent));
  std::string nameText(name);
  struct stat st {};
  if (::fstatat(parentFd.get(), nameText.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    // This layer wrote the path itself; a directory of its own then hides the one below.
    return S_ISDIR(st.st_mode) ? markOpaque(target) : okStatus();
  }
  if (::mknodat(parentFd.get(), nameText.c_str(), S_IFCHR, makedev(0, 0)) != 0) {
    return Error::fromErrno("cannot create the overlay whiteout " + quoted(target) +
                            " (a character device 0:0; this needs root)");
  }
  return okStatus();
}

Status LayerUnpacker::markOpaque(const std::string& dir) {
  TANDEM_TRY(makeDirsInRoot(rootFd_, dir));
  TANDEM_ASSIGN_OR_RETURN(UniqueFd dirFd, openDirInRoot(rootFd_, dir, DirAccess::Read));
  if (::fsetxattr(dirFd.get(), kOpaqueXattr, "y", 1, 0) != 0) {
    return Error::fromErrno(std::string("cannot set ") + kOpaqueXattr + " on " +
                            (dir.empty() ? std::string("the root") : quoted(dir)) +
                            " (trusted xattrs need root)");
  }
  return okStatus();
}

Result<Existing> LayerUnpacker::clearWay(const Target& target, bool forDirectory) {
  struct stat st {};
  if (::fstatat(target.parentFd, target.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      return Existing::Nothing;
    }
    return Error::fromErrno("cannot inspect what is at its path");
  }
  if (S_ISDIR(st.st_mode)) {
    if (forDirectory) {
      return Existing::Directory;
    }
    TANDEM_TRY(removeTreeAt(target.parentFd, target.name, target.path));
    return Existing::Other;
  }
  if (::unlinkat(target.parentFd, target.name.c_str(), 0) != 0) {
    return Error::fromErrno("cannot remove what is at its path");
  }
  bool whiteout = S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
  return whiteout ? Existing::OverlayWhiteout : Existing::Other;
}

Status LayerUnpacker::writeDirectory(const Target& target, const EntryMetadata& meta) {
  TANDEM_ASSIGN_OR_RETURN(Existing existing, clearWay(target, true));
  // Owner-only until the end, when the layer's mode is applied (finishDirectories).
  if (existing != Existing::Directory && ::mkdirat(target.parentFd, target.name.c_str(), 0700)) {
    return Error::fromErrno("cannot create the directory");
  }
  int fd = ::openat(target.parentFd, target.name.c_str(),
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return Error::fromErrno("cannot open the directory");
  }
  UniqueFd dir(fd);
  TANDEM_TRY(setMetadata(target, dir.get(), meta, Then::Nothing));
  // A directory replacing this layer's own whiteout must still hide the one below.
  if (existing == Existing::OverlayWhiteout && options_.whiteouts == WhiteoutMode::Overlay) {
    TANDEM_TRY(markOpaque(target.path));
  }
  directories_[target.path] = meta;
  return okStatus();
}

Status LayerUnpacker::writeRegular(const Target& target, const EntryMetadata& meta,
                                   archive_entry* entry) {
  TANDEM_TRY(clearWay(target, false));
  int fd = ::openat(target.parentFd, target.name.c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error::fromErrno("cannot create the file");
  }
  UniqueFd file(fd);
  TANDEM_TRY(writeData(file.get(), entry));
  return setMetadata(target, file.get(), meta, Then::ModeAndTimes);
}

Status LayerUnpacker::writeData(int fd, archive_entry* entry) {
  la_int64_t declared = archive_entry_size(entry);
  if (declared < 0) {
    return Error("its header declares a negative size");
  }
  std::uint64_t total = 0;
  la_int64_t end = 0;
  for (;;) {
    const void* block = nullptr;
    std::size_t size = 0;
    la_int64_t offset = 0;
    int rc = archive_read_data_block(reader_, &block, &size, &offset);
    if (rc == ARCHIVE_EOF) {
      break;
    }
    if (rc != ARCHIVE_OK) {
      return archiveError(reader_, "the layer is truncated or corrupt in this entry's data");
    }
    if (offset < 0 ||
        static_cast<std::uint64_t>(offset) + size > static_cast<std::uint64_t>(declared)) {
      return Error("its data runs past the " + std::to_string(declared) +
                   " bytes its header declares; the layer is corrupt");
    }
    TANDEM_TRY(pwriteAll(fd, static_cast<const char*>(block), size, offset));
    total += size;
    end = std::max(end, offset + static_cast<la_int64_t>(size));
  }
  // A sparse file's holes are never delivered; anything else must arrive whole.
  if (archive_entry_sparse_count(entry) == 0 && total != static_cast<std::uint64_t>(declared)) {
    return Error("it holds " + std::to_string(total) + " bytes but its header declares " +
                 std::to_string(declared) + "; the layer is truncated or corrupt");
  }
  if (end < declared && ::ftruncate(fd, declared) != 0) {
    return Error::fromErrno("cannot size the file to " + std::to_string(declared) + " bytes");
  }
  stats_.bytesWritten += total;
  return okStatus();
}

Status LayerUnpacker::writeSymlink(const Target& target, const EntryMetadata& meta,
                                   const char* linkTarget) {
  if (linkTarget == nullptr || *linkTarget == '\0') {
    return Error("it is a symlink with no target");
  }
  TANDEM_TRY(clearWay(target, false));
  // The target is stored as text and never followed here; whoever follows it later does so
  // inside the root (the container, or openDirInRoot for later entries).
  if (::symlinkat(linkTarget, target.parentFd, target.name.c_str()) != 0) {
    return Error::fromErrno("cannot create the symlink");
  }
  return setMetadata(target, -1, meta, Then::TimesOnly);
}

Status LayerUnpacker::writeHardlink(const Target& target, const char* rawLinkTarget) {
  auto cleaned = cleanEntryPath(rawLinkTarget);
  if (!cleaned.ok()) {
    return std::move(cleaned).error().context("its hardlink target " + quoted(rawLinkTarget));
  }
  const std::string& linkPath = *cleaned;
  if (linkPath.empty() || linkPath == target.path) {
    return Error("it is a hardlink to " + std::string(linkPath.empty() ? "the root" : "itself"));
  }
  auto [parent, name] = splitParent(linkPath);
  std::string linkName(name);
  auto linkParent = openDirInRoot(rootFd_, parent);
  struct stat st {};
  if (!linkParent.ok() ||
      ::fstatat(linkParent->get(), linkName.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return Error("its hardlink target " + quoted(linkPath) +
                     " is not in this layer before it, nor in the layers below",
                 ENOENT);
  }
  if (S_ISDIR(st.st_mode)) {
    return Error("its hardlink target " + quoted(linkPath) + " is a directory");
  }
  TANDEM_TRY(clearWay(target, false));
  // Flags 0: a symlink at the target is linked itself, never followed out of the root. The
  // link shares the target's inode, so the target's metadata is already the link's.
  if (::linkat(linkParent->get(), linkName.c_str(), target.parentFd, target.name.c_str(), 0) != 0) {
    return Error::fromErrno("cannot create the hardlink to " + quoted(linkPath));
  }
  return okStatus();
}

Status LayerUnpacker::writeNode(const Target& target, const EntryMetadata& meta,
                                archive_entry* entry) {
  TANDEM_TRY(clearWay(target, false));
  mode_t type = archive_entry_filetype(entry);
  dev_t device = type == AE_IFIFO
                     ? 0
                     : makedev(archive_entry_rdevmajor(entry), archive_entry_rdevminor(entry));
  if (::mknodat(target.parentFd, target.name.c_str(), type | 0600, device) != 0) {
    return Error::fromErrno(type == AE_IFIFO ? "cannot create the FIFO"
                                             : "cannot create the device node (needs root)");
  }
  return setMetadata(target, -1, meta, Then::ModeAndTimes);
}

Status LayerUnpacker::setMetadata(const Target& target, int fd, const EntryMetadata& meta,
                                  Then then) {
  EntryPlace place{target.parentFd, target.name.c_str(), fd};
  // chown clears setuid bits and file capabilities, so the xattrs and the mode come after it.
  if (options_.preserveOwnership) {
    TANDEM_TRY(setOwner(place, meta));
  }
  TANDEM_ASSIGN_OR_RETURN(std::uint64_t skipped, setXattrs(place, meta, layerName_, target.path));
  stats_.skippedXattrs += skipped;
  if (then == Then::Nothing) {
    return okStatus();
  }
  return setModeAndTimes(place, meta, then == Then::ModeAndTimes);
}

// Directory modes and times are set last: a mode without write permission would stop the
// entries inside from being written, and each of those would bump the directory's mtime. The
// deepest come first, so that a directory without search permission is closed last.
Status LayerUnpacker::finishDirectories() {
  for (auto it = directories_.rbegin(); it != directories_.rend(); ++it) {
    const auto& [path, meta] = *it;
    auto [parent, name] = splitParent(path);
    auto parentFd = openDirInRoot(rootFd_, parent);
    if (!parentFd.ok()) {
      if (isMissing(parentFd.error())) {
        continue;
      }
      return std::move(parentFd).error().context("entry " + quoted(path));
    }
    std::string nameText(name);
    struct stat st {};
    if (::fstatat(parentFd->get(), nameText.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(st.st_mode)) {
      continue;  // a later entry of this layer replaced it
    }
    auto status = setModeAndTimes({parentFd->get(), nameText.c_str()}, meta, true);
    if (!status.ok()) {
      return std::move(status).error().context("entry " + quoted(path));
    }
  }
  return okStatus();
}

}  // namespace

Result<LayerUnpackStats> unpackLayer(int layerFd, std::string_view layerName, int rootDirFd,
                                     std::string_view rootPath, const LayerUnpackOptions& options) {
  std::string context =
      "cannot unpack layer " + std::string(layerName) + " into " + std::string(rootPath);
  auto reader = openTarStream(layerFd, "the layer");
  if (!reader.ok()) {
    return std::move(reader).error().context(context);
  }
  return LayerUnpacker(reader->get(), layerName, rootDirFd, options).run().context(context);
}

}  // namespace tandem::image

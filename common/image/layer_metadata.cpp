#include "common/image/layer_metadata.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>

namespace tandem::image {

Result<EntryMetadata> metadataOf(archive_entry* entry) {
  constexpr auto kMaxId = std::numeric_limits<std::uint32_t>::max() - 1;
  auto uid = archive_entry_uid(entry);
  auto gid = archive_entry_gid(entry);
  if (uid < 0 || uid > kMaxId || gid < 0 || gid > kMaxId) {
    return Error("its owner " + std::to_string(uid) + ":" + std::to_string(gid) +
                 " is not a valid uid:gid");
  }
  EntryMetadata meta;
  meta.permissions = archive_entry_perm(entry) & 07777;
  meta.uid = static_cast<uid_t>(uid);
  meta.gid = static_cast<gid_t>(gid);
  if (archive_entry_mtime_is_set(entry)) {
    meta.times[1] = {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)};
    meta.times[0] = meta.times[1];
  }
  if (archive_entry_atime_is_set(entry)) {
    meta.times[0] = {archive_entry_atime(entry), archive_entry_atime_nsec(entry)};
  }
  archive_entry_xattr_reset(entry);
  const char* name = nullptr;
  const void* value = nullptr;
  std::size_t size = 0;
  while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
    std::string_view key = name;
    if (key.starts_with("trusted.overlay.") || key.starts_with("user.overlay.")) {
      return Error("it carries the xattr " + std::string(key) +
                   ", which is overlayfs's own metadata and never part of an image");
    }
    // Tars written by libarchive carry each xattr twice (SCHILY. and LIBARCHIVE. records).
    std::string bytes(static_cast<const char*>(value), size);
    auto same = std::find_if(meta.xattrs.begin(), meta.xattrs.end(),
                             [&](const auto& xattr) { return xattr.first == key; });
    if (same != meta.xattrs.end()) {
      same->second = std::move(bytes);
    } else {
      meta.xattrs.emplace_back(key, std::move(bytes));
    }
  }
  return meta;
}

Status setOwner(const EntryPlace& place, const EntryMetadata& meta) {
  int rc = place.fd >= 0
               ? ::fchown(place.fd, meta.uid, meta.gid)
               : ::fchownat(place.parentFd, place.name, meta.uid, meta.gid, AT_SYMLINK_NOFOLLOW);
  if (rc != 0) {
    return Error::fromErrno("cannot give it the owner " + std::to_string(meta.uid) + ":" +
                            std::to_string(meta.gid));
  }
  return okStatus();
}

Result<std::uint64_t> setXattrs(const EntryPlace& place, const EntryMetadata& meta,
                                std::string_view layerName, std::string_view entryName) {
  // Symlinks and device nodes cannot be opened to set xattrs through an fd; their parent's fd
  // in /proc reaches them without following the last component.
  std::string procPath;
  if (place.fd < 0 && !meta.xattrs.empty()) {
    procPath = "/proc/self/fd/" + std::to_string(place.parentFd) + "/" + place.name;
  }
  std::uint64_t skipped = 0;
  for (const auto& [name, value] : meta.xattrs) {
    int rc = place.fd >= 0
                 ? ::fsetxattr(place.fd, name.c_str(), value.data(), value.size(), 0)
                 : ::lsetxattr(procPath.c_str(), name.c_str(), value.data(), value.size(), 0);
    if (rc == 0) {
      continue;
    }
    // security.* belongs to the host's LSMs and capability rules, which may well refuse a label
    // or a capability set made on another system; the file is still right without it.
    bool refused = errno == EPERM || errno == EACCES || errno == EOPNOTSUPP || errno == EINVAL;
    if (name.starts_with("security.") && refused) {
      spdlog::warn("layer {}: entry \"{}\": the kernel refused the xattr {} ({}); skipping it",
                   layerName, entryName, name, std::strerror(errno));
      ++skipped;
      continue;
    }
    return Error::fromErrno("cannot set the xattr " + name);
  }
  return skipped;
}

Status setModeAndTimes(const EntryPlace& place, const EntryMetadata& meta, bool withMode) {
  if (withMode) {
    // Without an fd, glibc's fchmodat goes through an O_PATH fd of the entry itself and refuses
    // a symlink there, so nothing it points to is changed.
    int rc = place.fd >= 0
                 ? ::fchmod(place.fd, meta.permissions)
                 : ::fchmodat(place.parentFd, place.name, meta.permissions, AT_SYMLINK_NOFOLLOW);
    if (rc != 0) {
      return Error::fromErrno("cannot set its mode");
    }
  }
  int rc = place.fd >= 0 ? ::futimens(place.fd, meta.times)
                         : ::utimensat(place.parentFd, place.name, meta.times, AT_SYMLINK_NOFOLLOW);
  if (rc != 0) {
    return Error::fromErrno("cannot set its times");
  }
  return okStatus();
}

}  // namespace tandem::image

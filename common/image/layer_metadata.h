// What a layer's tar header says about an entry beyond its name and type (owner, mode, times,
// xattrs), and putting it on the entry once it exists. The order matters and is kept here:
// chown clears setuid bits and file capabilities, so the mode and the xattrs come after it.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

struct archive_entry;

namespace tandem::image {

struct EntryMetadata {
  mode_t permissions = 0;  // the 07777 bits
  uid_t uid = 0;
  gid_t gid = 0;
  timespec times[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};  // atime, mtime; omitted if unset
  std::vector<std::pair<std::string, std::string>> xattrs;
};

// Copies the metadata out of libarchive's entry. Refuses a uid or gid that is not one
// ((uid_t)-1 would mean "leave unchanged" to chown) and overlayfs's own xattrs
// (trusted.overlay.*, user.overlay.*), which would let a layer forge whiteouts or redirects.
Result<EntryMetadata> metadataOf(archive_entry* entry);

// An entry that exists on disk: a name in a directory resolved inside the root, and the entry
// itself when it is open (regular files and directories). Without an fd, nothing is done
// through the name that would follow a symlink there.
struct EntryPlace {
  int parentFd;
  const char* name;
  int fd = -1;
};

Status setOwner(const EntryPlace& place, const EntryMetadata& meta);

// Sets the xattrs. security.* ones the kernel refuses (a label for another LSM, a capability set
// this user may not grant) are skipped with a warning naming `layerName` and `entryName`, and
// counted in the result; every other failure is an error.
Result<std::uint64_t> setXattrs(const EntryPlace& place, const EntryMetadata& meta,
                                std::string_view layerName, std::string_view entryName);

// Sets the mode (unless `withMode` is false: a symlink's own mode means nothing) and the times.
Status setModeAndTimes(const EntryPlace& place, const EntryMetadata& meta, bool withMode);

}  // namespace tandem::image

// Paths inside a folder that stands for a container's root filesystem, resolved the way the
// container will see them: symlinks are followed as under chroot (openat2 RESOLVE_IN_ROOT, as
// containerd's securejoin does), so no link, absolute or full of "..", leads out of the folder.
// Paths here are cleaned relative paths (layer_paths.h); "" is the root itself.
//
// The folder must not be changed by anyone else meanwhile: the final component of a path is
// never followed, but a concurrent writer could still swap a directory between two calls.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem {

// Path: an O_PATH fd, enough to resolve names in. Read: an fd to list or set xattrs through.
enum class DirAccess { Path, Read };

// Opens the directory at `path` inside the root. A missing path or a non-directory on the way
// keeps its errno (ENOENT, ENOTDIR) so that callers can tell "nothing there" from a failure.
Result<UniqueFd> openDirInRoot(int rootFd, std::string_view path,
                               DirAccess access = DirAccess::Path);

// openDirInRoot that first creates the missing directories on the way (mode 0755, as tar and
// docker do for entries whose parents the archive never listed). A symlink on the way to a
// directory that does not exist is an error, as in docker, rather than a directory made for it.
Result<UniqueFd> makeDirsInRoot(int rootFd, std::string_view path);

// rm -rf of `name` in the directory `parentFd`: never follows a symlink and never enters another
// mount. `path` names the entry in errors. Succeeds if nothing is there.
Status removeTreeAt(int parentFd, const std::string& name, const std::string& path);

// Empties the directory `dirFd` (at `dirPath`) of everything `kept` does not claim: an unclaimed
// entry is removed with all it holds, a claimed directory is emptied the same way, and a
// claimed non-directory stays. `kept` takes a path relative to the root.
Status removeUnclaimedIn(int dirFd, const std::string& dirPath,
                         const std::function<bool(const std::string&)>& kept);

}  // namespace tandem

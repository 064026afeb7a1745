#include "container/layer_disk.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/file.h"
#include "common/run_program.h"
#include "common/workload.h"
#include "container/ext4_mount.h"

namespace tandem::container {
namespace {

// Made beside its final name and renamed into place, so that a failed or killed start leaves
// either no layer or a whole one.
Status makeLayerDisk(const std::string& image, std::uint64_t bytes) {
  std::string making = image + ".making";
  {
    TANDEM_ASSIGN_OR_RETURN(UniqueFd file,
                            openPath(making, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (::ftruncate(file.get(), static_cast<off_t>(bytes)) != 0) {
      Error error = Error::fromErrno("cannot size the writable layer " + making);
      ::unlink(making.c_str());
      return error;
    }
  }
  // No reserved blocks: the whole size is the workload's. Lazy init: a sparse file stays sparse.
  Status made = runProgram({"mkfs.ext4", "-q", "-F", "-m", "0", "-L", "tandem-layer", "-E",
                            "lazy_itable_init=1,lazy_journal_init=1,nodiscard", making},
                           "e2fsprogs");
  if (made && ::rename(making.c_str(), image.c_str()) != 0) {
    made = Error::fromErrno("cannot put the writable layer in place at " + image);
  }
  if (!made) {
    ::unlink(making.c_str());
  }
  return made;
}

Status makeOwnedFolder(int root, const char* name, uid_t owner, gid_t group,
                       const std::string& image) {
  if (::mkdirat(root, name, 0755) != 0 && errno != EEXIST) {
    return Error::fromErrno(std::string("cannot make ") + name + " in the writable layer " + image);
  }
  if (::fchownat(root, name, owner, group, AT_SYMLINK_NOFOLLOW) != 0) {
    return Error::fromErrno(std::string("cannot hand ") + name + " in the writable layer " + image +
                            " to the container's root");
  }
  return okStatus();
}

}  // namespace

Result<UniqueFd> mountLayerDisk(const std::string& image, std::uint64_t bytes, uid_t owner,
                                gid_t group) {
  if (bytes < kMinStorageBytes) {
    return Error("a writable layer of " + std::to_string(bytes) +
                     " bytes is too small for its filesystem; give at least 16M",
                 EINVAL);
  }
  if (!pathExists(image)) {
    TANDEM_TRY(makeLayerDisk(image, bytes));
  }
  TANDEM_ASSIGN_OR_RETURN(UniqueFd tree, detachedExt4Mount(image, false, "the writable layer"));
  TANDEM_TRY(makeOwnedFolder(tree.get(), kLayerUpper, owner, group, image));
  TANDEM_TRY(makeOwnedFolder(tree.get(), kLayerWork, owner, group, image));
  return tree;
}

}  // namespace tandem::container

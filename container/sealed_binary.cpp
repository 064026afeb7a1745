#include "container/sealed_binary.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/file.h"
#include "common/process.h"

namespace tandem::container {

namespace {

constexpr int kRequiredSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

}  // namespace

bool runningFromProtectedCopy() {
  auto exe = openPath("/proc/self/exe", O_RDONLY);
  if (!exe) {
    return false;
  }
  int seals = ::fcntl(exe->get(), F_GET_SEALS);
  if (seals >= 0 && (seals & kRequiredSeals) == kRequiredSeals) {
    return true;
  }
  struct statvfs fs {};
  return ::fstatvfs(exe->get(), &fs) == 0 && (fs.f_flag & ST_RDONLY) != 0;
}

Result<UniqueFd> readOnlyViewOfSelf() {
  TANDEM_ASSIGN_OR_RETURN(std::string path, ownExecutablePath());
  auto slash = path.rfind('/');
  std::string folder = slash == 0 ? "/" : path.substr(0, slash);
  std::string name = path.substr(slash + 1);
  UniqueFd tree(
      static_cast<int>(::open_tree(AT_FDCWD, folder.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
  if (!tree) {
    return Error::fromErrno("cannot clone a mount of " + folder);
  }
  mount_attr attributes{};
  attributes.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attributes, sizeof attributes) != 0) {
    return Error::fromErrno("cannot make the mount of " + folder + " read-only");
  }
  int fd = ::openat(tree.get(), name.c_str(), O_PATH | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return Error::fromErrno("cannot open " + name + " in the read-only mount of " + folder);
  }
  return UniqueFd(fd);
}

Result<UniqueFd> sealedCopyOfSelf() {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd source, openPath("/proc/self/exe", O_RDONLY));
  struct stat st {};
  if (::fstat(source.get(), &st) != 0) {
    return Error::fromErrno("cannot inspect tandem's own binary");
  }
  UniqueFd copy(::memfd_create("tandem", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!copy) {
    return Error::fromErrno("cannot create a sealed copy of tandem's binary (memfd_create)");
  }
  off_t offset = 0;
  while (offset < st.st_size) {
    ssize_t n = ::sendfile(copy.get(), source.get(), &offset,
                           static_cast<std::size_t>(st.st_size - offset));
    if (n <= 0) {
      return Error::fromErrno("cannot copy tandem's binary into its sealed copy");
    }
  }
  if (::fcntl(copy.get(), F_ADD_SEALS, kRequiredSeals) != 0) {
    return Error::fromErrno("cannot seal the copy of tandem's binary");
  }
  return copy;
}

}  // namespace tandem::container

#include "container/sealed_binary.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"

namespace tandem::container {

namespace {

constexpr int kRequiredSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

}  // namespace

bool runningFromSealedCopy() {
  auto exe = openPath("/proc/self/exe", O_RDONLY);
  if (!exe) {
    return false;
  }
  int seals = ::fcntl(exe->get(), F_GET_SEALS);
  return seals >= 0 && (seals & kRequiredSeals) == kRequiredSeals;
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

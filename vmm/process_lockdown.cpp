#include "vmm/process_lockdown.h"

#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "common/capabilities.h"

namespace tandem::vmm {
namespace {

Status setLimit(int resource, rlim_t value, const char* what) {
  rlimit limit{value, value};
  if (::setrlimit(resource, &limit) != 0) {
    return Error::fromErrno(std::string("cannot set tandem-vmm's limit on ") + what);
  }
  return okStatus();
}

// A VMM started without CAP_SETPCAP (by a user in the kvm group) has a bounding set it cannot
// change, and no capability to lose through it: no_new_privs and the empty sets still hold.
Status dropWholeBoundingSet() {
  TANDEM_ASSIGN_OR_RETURN(bool canDrop, hasEffectiveCapability(CAP_SETPCAP));
  return canDrop ? dropBoundingSet({}) : okStatus();
}

Status becomeJailUser(const JailUser& user) {
  if (::setgroups(0, nullptr) != 0 || ::setresgid(user.gid, user.gid, user.gid) != 0 ||
      ::setresuid(user.uid, user.uid, user.uid) != 0) {
    return Error::fromErrno("cannot switch tandem-vmm to its jail user " + jailUserText(user));
  }
  return okStatus();
}

}  // namespace

Status dieWithParent(int parentPidfd) {
  if (parentPidfd < 0) {
    return okStatus();
  }
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    return Error::fromErrno("cannot have tandem-vmm die with the process that started it");
  }
  // A pidfd reads as ready once its process has ended.
  pollfd parent{parentPidfd, POLLIN, 0};
  int ready = ::poll(&parent, 1, 0);
  if (ready < 0) {
    return Error::fromErrno("cannot check on the process that started tandem-vmm");
  }
  if (ready > 0) {
    return Error("the process that started this microVM is gone", ESRCH);
  }
  return okStatus();
}

std::optional<rlim_t> fileSizeLimit(std::uint64_t largestWritableDisk,
                                    std::initializer_list<int> outputFds) {
  for (int fd : outputFds) {
    struct stat info {};
    if (fd >= 0 && ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode)) {
      return std::nullopt;
    }
  }
  return std::max(static_cast<rlim_t>(largestWritableDisk), kVmmReportFileBytes);
}

Status lockDownProcess(const Lockdown& lockdown) {
  TANDEM_TRY(setLimit(RLIMIT_CORE, 0, "core dumps"));
  TANDEM_TRY(setLimit(RLIMIT_NOFILE, kVmmMaxOpenFiles, "open files"));
  if (lockdown.maxFileSize) {
    ::signal(SIGXFSZ, SIG_IGN);
    TANDEM_TRY(setLimit(RLIMIT_FSIZE, *lockdown.maxFileSize, "file size"));
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Error::fromErrno("cannot set no_new_privs on tandem-vmm");
  }
  TANDEM_TRY(dropWholeBoundingSet().context("tandem-vmm"));
  if (lockdown.user) {
    TANDEM_TRY(becomeJailUser(*lockdown.user));
    TANDEM_TRY(dieWithParent(lockdown.parentPidfd));
  }
  return applyCapabilities({}).context("tandem-vmm");
}

}  // namespace tandem::vmm

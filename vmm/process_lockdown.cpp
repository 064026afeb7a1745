#include "vmm/process_lockdown.h"

#include <signal.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <string>
#include <type_traits>

namespace tandem::vmm {
namespace {

struct CapFree {
  void operator()(cap_t state) const { cap_free(state); }
};
using CapState = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;

Status setLimit(int resource, rlim_t value, const char* what) {
  rlimit limit{value, value};
  if (::setrlimit(resource, &limit) != 0) {
    return Error::fromErrno(std::string("cannot set tandem-vmm's limit on ") + what);
  }
  return okStatus();
}

// A VMM started without CAP_SETPCAP (by a user in the kvm group) has a bounding set it cannot
// change, and no capability to lose through it: no_new_privs and the empty sets still hold.
Status dropBoundingSet() {
  CapState own(cap_get_proc());
  cap_flag_value_t canDrop = CAP_CLEAR;
  if (!own || cap_get_flag(own.get(), CAP_SETPCAP, CAP_EFFECTIVE, &canDrop) != 0) {
    return Error::fromErrno("cannot read tandem-vmm's own capabilities");
  }
  if (canDrop != CAP_SET) {
    return okStatus();
  }
  for (int cap = 0; cap < cap_max_bits(); ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      return Error::fromErrno("cannot drop capability " + std::to_string(cap) +
                              " from tandem-vmm's bounding set");
    }
  }
  return okStatus();
}

}  // namespace

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

Status lockDownProcess(std::optional<rlim_t> maxFileSize) {
  TANDEM_TRY(setLimit(RLIMIT_CORE, 0, "core dumps"));
  TANDEM_TRY(setLimit(RLIMIT_NOFILE, kVmmMaxOpenFiles, "open files"));
  if (maxFileSize) {
    ::signal(SIGXFSZ, SIG_IGN);
    TANDEM_TRY(setLimit(RLIMIT_FSIZE, *maxFileSize, "file size"));
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Error::fromErrno("cannot set no_new_privs on tandem-vmm");
  }
  TANDEM_TRY(dropBoundingSet());
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    return Error::fromErrno("cannot clear tandem-vmm's ambient capabilities");
  }
  CapState none(cap_init());
  if (!none || cap_set_proc(none.get()) != 0) {
    return Error::fromErrno("cannot drop tandem-vmm's capabilities");
  }
  return okStatus();
}

}  // namespace tandem::vmm

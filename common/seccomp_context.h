// A libseccomp filter context (scmp_filter_ctx) that releases itself: the container runtime's
// filters and the VMM's per-thread filters are both built in one.
#pragma once

#include <seccomp.h>

#include <memory>

namespace tandem {

struct SeccompRelease {
  void operator()(void* context) const { seccomp_release(context); }
};
using SeccompContext = std::unique_ptr<void, SeccompRelease>;

}  // namespace tandem

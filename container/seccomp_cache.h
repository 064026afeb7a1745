// libseccomp takes about 9 ms to compile the default profile, more than the rest of a
// container's start. The program depends only on the profile, the capability set, libseccomp
// and the running kernel's ABIs, so it is compiled once per such key and kept on disk.
#pragma once

#include <linux/filter.h>
#include <sys/capability.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace tandem::container {

// A hash of everything the compiled program depends on.
std::uint64_t seccompCacheKey(const std::vector<cap_value_t>& caps);

// Loads the program for `caps` from `cacheDir`, or compiles and stores it. A damaged cache file
// is recompiled over, never trusted.
Result<std::vector<sock_filter>> cachedSeccompProgram(const std::string& cacheDir,
                                                      const std::vector<cap_value_t>& caps);

}  // namespace tandem::container

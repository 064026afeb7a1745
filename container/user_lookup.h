// Resolves --user against the rootfs's own /etc/passwd and /etc/group, as docker does: names or
// numbers, the user's primary group, its supplementary groups and its home.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"

namespace tandem::container {

struct ResolvedUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additionalGids;
  std::string home = "/";
};

// `spec` is "", "USER", "USER:GROUP", with each part a name or a number. A number need not exist
// in passwd; a name must. Either file's text may be empty (no such file in the image).
Result<ResolvedUser> resolveUser(const std::string& spec, const std::string& passwd,
                                 const std::string& group);

}  // namespace tandem::container

// A config.json mount's "options" turned into what mount(2) takes, as runc reads them: flags,
// flags to clear, propagation changes made after the mount, and the filesystem's own data.
#pragma once

#include <string>
#include <vector>

#include "common/oci/runtime_spec.h"

namespace tandem::container {

struct MountOptions {
  unsigned long flags = 0;                 // MS_* set at mount time (MS_BIND | MS_REC for "rbind")
  std::vector<unsigned long> propagation;  // MS_SHARED, MS_PRIVATE, ... (| MS_REC), in order
  std::string data;  // comma-joined options mount(2) does not know, e.g. mode=755
  bool bind = false;
  // A bind mount ignores most flags until remounted; these are the ones to remount with.
  unsigned long bindRemountFlags = 0;
};

// Unknown options are passed to the filesystem as data, as runc does; "defaults" and the
// no-ops of fstab are accepted and ignored. A bind is recognised by its options ("bind",
// "rbind") or by type "bind".
MountOptions parseMountOptions(const oci::Mount& mount);

}  // namespace tandem::container

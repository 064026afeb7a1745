// A host file attached to a microVM as a virtio-blk disk, as `--disk PATH[:ro|:rw]` names it:
// the guest sees the disks as /dev/vda, /dev/vdb, ... in the order given.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace tandem::vmm {

// At most this many disks: each takes one of the ISA interrupt lines the legacy devices leave.
inline constexpr std::size_t kMaxDisks = 8;

struct DiskSpec {
  std::string path;
  bool readOnly = false;

  // "PATH:ro" or "PATH:rw", which parseDiskSpec reads back.
  std::string text() const { return path + (readOnly ? ":ro" : ":rw"); }
};

// "PATH" (read-write), "PATH:rw" or "PATH:ro"; a PATH with a colon of its own needs the suffix.
Result<DiskSpec> parseDiskSpec(std::string_view text);

}  // namespace tandem::vmm

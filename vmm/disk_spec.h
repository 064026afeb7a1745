// A host file attached to a microVM as a virtio-blk disk, as `--disk` names it: the guest sees
// the disks as /dev/vda, /dev/vdb, ... in the order given.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "vmm/disk_backing.h"

namespace tandem::vmm {

// At most this many disks: each takes one of the ISA interrupt lines the legacy devices leave.
inline constexpr std::size_t kMaxDisks = 8;

struct DiskSpec {
  std::string path;
  bool readOnly = false;
  // When set, `path` is a read-only base and the guest's writes go to this file instead
  // (layered_disk.h), created when missing.
  std::string layerPath = {};

  // "PATH:ro", "PATH:rw" or "PATH:layer=LAYER", which parseDiskSpec reads back.
  std::string text() const;
};

// "PATH" (read-write), "PATH:rw", "PATH:ro", or "PATH:layer=LAYER" (PATH unchanged, writes to
// LAYER); a PATH with a colon of its own needs a suffix.
Result<DiskSpec> parseDiskSpec(std::string_view text);

// What the disk's virtio-blk device reads and writes: the file itself, or its base and layer.
Result<std::unique_ptr<DiskBacking>> openDisk(const DiskSpec& disk);

}  // namespace tandem::vmm

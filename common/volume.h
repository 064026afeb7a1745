// A volume as `-v` writes it: host storage shown at a path inside the workload. Free of system
// calls; the workload description carries these, and each backend gives them its own form.
//
// Two kinds, the same at both isolation levels where the level can give them:
// - bind: a host folder or file appears at PATH. A container bind-mounts it; a microVM, which
//   shares no filesystem with its host, takes a folder read-only, copied onto a disk at start.
// - disk: a host file holding an ext4 filesystem is mounted at PATH. A microVM gets it as an
//   extra virtio-blk drive; a container mounts it through a loop device.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace tandem {

enum class VolumeKind { kBind, kDisk };

struct Volume {
  std::string source;  // absolute host path
  std::string target;  // absolute path inside the workload, never "/"
  bool readOnly = false;
  VolumeKind kind = VolumeKind::kBind;

  // "HOST:PATH[:OPTIONS]", which parseVolume reads back.
  std::string text() const;
  bool operator==(const Volume&) const = default;
};

// "HOST:PATH" or "HOST:PATH:OPTIONS", OPTIONS a comma list of ro or rw and, for a disk volume,
// disk. Both paths absolute and without ':' (as docker's -v); PATH is cleaned of "." and
// repeated slashes, and may not climb with "..".
Result<Volume> parseVolume(std::string_view text);

}  // namespace tandem

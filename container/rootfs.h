// Builds the container's filesystem inside its own mount namespace and pivots into it. Runs in
// the container's first process, before exec; nothing here touches the host's mount table.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "common/volume.h"
#include "container/mount_plan.h"

namespace tandem::container {

struct RootfsLayout {
  // Read-only lower layers, topmost first: the user's rootfs folder, or an image's layers.
  std::vector<std::string> image;
  std::string skeleton;  // tandem's folder of empty mount points, the lowest layer
  std::string upper;     // writable layer; empty with --read-only
  std::string work;      // overlayfs work dir beside `upper`
  std::string merged;    // where the overlay is mounted before pivot_root
  // With a size-limited writable layer (layer_disk.h): where its filesystem is placed, holding
  // `upper` and `work`; empty: they are folders on the host's filesystem.
  std::string layerDisk;
  bool readOnly = false;
  bool userNamespace = false;
  MountPlanOptions plan;
};

// Mounts the overlay and the special filesystems under `merged`, populates /dev, then mounts the
// volumes (volume_mounts.h). A read-only root with volumes still gets its writable layer, to hold
// their mount points, and becomes read-only in enterRootfs. The caller has made "/" private, so
// nothing mounted here propagates to the host.
// `layerMount` is the runtime's mount of the layer's filesystem (mountLayerDisk) when
// `layout.layerDisk` is set; `diskMounts` its mounts of the disk volumes (mountDiskVolumes).
Status buildRootfs(const RootfsLayout& layout, const std::vector<Volume>& volumes,
                   UniqueFd layerMount, std::vector<UniqueFd> diskMounts);

// Allocates a pty from the container's own devpts and bind-mounts its slave on /dev/console.
// Returns the master, for the runtime to proxy; call after buildRootfs, before enterRootfs.
struct Console {
  UniqueFd master;
  UniqueFd slave;
};
Result<Console> openConsole(const std::string& merged);

// A pty from the devpts instance behind `ptmx` (a container's own), unlocked, its slave opened
// through the master so that no path lookup can be raced.
Result<Console> openPty(const std::string& ptmx);

// Makes `slave` the controlling terminal of this process (which has just called setsid) and
// its stdin, stdout and stderr.
Status attachTerminal(int slave);

// pivot_root into `merged`, detaches the old root, then masks and write-protects what runc does.
Status enterRootfs(const RootfsLayout& layout);

}  // namespace tandem::container

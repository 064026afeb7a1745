// The kernel filesystems a workload expects to find, mounted over the initramfs; each mount
// point is created if the rootfs lacks it.
#pragma once

#include <vector>

#include "common/result.h"
#include "common/volume.h"
#include "tools/guest-init/boot_options.h"

namespace tandem::guest_init {

// devtmpfs on /dev, first of all: the console and the stdio tty live there.
Status mountDevices();

// /proc and /sys; then /dev/pts and /dev/shm as extras: a kernel without them (no
// CONFIG_UNIX98_PTYS, say) goes on without them, and any other failure to mount them costs a
// console warning, not the workload.
Status mountKernelFilesystems();

// Once the kernel filesystems are mounted: mounts `root` (waiting a little for its device node,
// as rootwait does), moves /dev, /proc and /sys into it, and makes it the root, as switch_root
// does. What stays open (the stdio tty, the status port) stays usable.
Status switchToRoot(const RootDevice& root);

// In the workload's root: mounts each volume's ext4 drive (its source, a /dev/vdX the VMM named)
// on its path, made if missing.
Status mountVolumes(const std::vector<Volume>& volumes);

}  // namespace tandem::guest_init

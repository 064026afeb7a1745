// The kernel filesystems a workload expects to find, mounted over the initramfs; each mount
// point is created if the rootfs lacks it.
#pragma once

#include "common/result.h"

namespace tandem::guest_init {

// devtmpfs on /dev, first of all: the console and the stdio tty live there.
Status mountDevices();

// /proc and /sys; then /dev/pts and /dev/shm as extras: a kernel without them (no
// CONFIG_UNIX98_PTYS, say) costs a console warning, not the workload.
Status mountKernelFilesystems();

}  // namespace tandem::guest_init

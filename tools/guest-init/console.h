// Init's own fds 0-2 and the messages it leaves on the kernel console (COM2), which the VMM
// keeps apart from the workload's output: for whoever debugs a guest that went wrong.
#pragma once

#include <string_view>

namespace tandem::guest_init {

// The kernel opens /dev/console as init's fds 0-2 only if the initramfs has that node; without
// it they start closed, and the workload's pipes would land there and be clobbered by its own
// dup2 onto 0-2. Fills the closed ones with placeholders; returns which, as a bit mask.
unsigned reserveStandardFds();

// Once devtmpfs is mounted: points the placeholders at /dev/console.
void attachConsole(unsigned reserved);

// "tandem-guest-init: TEXT" on fd 2.
void consoleMessage(std::string_view text);

}  // namespace tandem::guest_init

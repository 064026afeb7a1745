// The guest's memory as its kernel counts it (/proc/meminfo), for the exit reports the VMM and
// `tandem exec` get (vmm/agent_protocol.h).
#pragma once

#include "vmm/agent_protocol.h"

namespace tandem::guest_init {

// Fills the report's guest memory fields; leaves them 0 when /proc/meminfo cannot be read.
void addGuestMemory(guest::ExecExit& report);

}  // namespace tandem::guest_init

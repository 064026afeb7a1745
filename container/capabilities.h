// Linux capabilities for the workload: the OCI default set, adjusted by --cap-add/--cap-drop.
#pragma once

#include <sys/capability.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace tandem::container {

// The OCI runtime-spec / docker default set, as "CAP_*" names.
const std::vector<std::string>& defaultCapabilityNames();

// The default set plus `add` minus `drop`. Names are case-insensitive, with or without "CAP_";
// "ALL" means every capability this kernel knows. An unknown name is an error naming it.
Result<std::vector<cap_value_t>> resolveCapabilities(const std::vector<std::string>& add,
                                                     const std::vector<std::string>& drop);

// The bit mask /proc/PID/status shows as CapEff for this set.
std::uint64_t capabilityMask(const std::vector<cap_value_t>& caps);

// Runs in the container before changing uid: drops every capability outside `keep` from the
// bounding set, so not even a setuid binary can win it back.
Status dropBoundingSet(const std::vector<cap_value_t>& keep);

// Runs in the container after changing uid (with PR_SET_KEEPCAPS): sets effective, permitted
// and inheritable to `keep`, and clears the ambient set.
Status applyCapabilities(const std::vector<cap_value_t>& keep);

}  // namespace tandem::container

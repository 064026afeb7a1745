// Linux capabilities: the OCI default set a container's workload gets, adjusted by --cap-add and
// --cap-drop, and the calls that set a process's sets, with which the microVM monitor also gives
// up all of its own.
#pragma once

#include <sys/capability.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace tandem {

// The OCI runtime-spec / docker default set, as "CAP_*" names.
const std::vector<std::string>& defaultCapabilityNames();

// "CAP_CHOWN" for CAP_CHOWN; "capability 41" for one this libcap cannot name.
std::string capabilityName(cap_value_t cap);

// The default set plus `add` minus `drop`. Names are case-insensitive, with or without "CAP_";
// "ALL" means every capability this kernel knows. An unknown name is an error naming it.
// As in docker, "ALL" in `add` keeps everything but the named drops, and "ALL" in `drop`
// keeps only what `add` names. The result is sorted, without duplicates.
Result<std::vector<cap_value_t>> resolveCapabilities(const std::vector<std::string>& add,
                                                     const std::vector<std::string>& drop);

// The bit mask /proc/PID/status shows as CapEff for this set.
std::uint64_t capabilityMask(const std::vector<cap_value_t>& caps);

// Whether the calling thread holds `cap` in its effective set.
Result<bool> hasEffectiveCapability(cap_value_t cap);

// Drops every capability outside `keep` from the bounding set, so not even a setuid binary can
// win it back: in a container before it changes uid. Needs CAP_SETPCAP.
Status dropBoundingSet(const std::vector<cap_value_t>& keep);

// Sets effective and permitted to `keep`, and clears the inheritable and ambient sets: in a
// container after it changes uid (with PR_SET_KEEPCAPS).
Status applyCapabilities(const std::vector<cap_value_t>& keep);

// An OCI process's five capability sets (runtime-spec config.md, "capabilities").
struct CapabilitySets {
  std::vector<cap_value_t> bounding;
  std::vector<cap_value_t> effective;
  std::vector<cap_value_t> permitted;
  std::vector<cap_value_t> inheritable;
  std::vector<cap_value_t> ambient;
};

// Names as config.json spells them ("CAP_CHOWN"). Like runc, a name this kernel or libcap does
// not know is left out, not an error, so that one config.json serves older kernels; the names
// left out are returned in `unknown`.
std::vector<cap_value_t> parseCapabilityNames(const std::vector<std::string>& names,
                                              std::vector<std::string>& unknown);

// Runs after the user switch (with PR_SET_KEEPCAPS): effective, permitted and inheritable as
// given, then each ambient capability raised that can be (see the warning it logs otherwise).
// The bounding set is dropBoundingSet's.
Status applyCapabilitySets(const CapabilitySets& sets);

}  // namespace tandem

#include "common/capabilities.h"

#include <sys/prctl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <set>
#include <string_view>
#include <type_traits>

#include "common/log.h"

namespace tandem {
namespace {

// OCI runtime-spec config-linux defaults, the same set docker grants.
constexpr cap_value_t kDefaultCapabilities[] = {
    CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,
    CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,           CAP_SETUID,
    CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
    CAP_KILL,    CAP_AUDIT_WRITE,
};

// Names and capability states come from libcap's allocator; only cap_free may release them.
struct CapFree {
  void operator()(void* memory) const { cap_free(memory); }
};
using CapText = std::unique_ptr<char, CapFree>;
using CapState = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;

// libcap probes the running kernel once at load time, so this is the kernel's last, which may
// be below or above the last capability this libcap was built to name.
cap_value_t kernelLastCapability() {
  return cap_max_bits() - 1;
}

std::string upperCase(std::string_view text) {
  std::string upper(text);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return upper;
}

bool isAll(const std::string& name) {
  return upperCase(name) == "ALL";
}

// Matches whole names only: libcap's cap_from_name() also takes numbers, and stops at the first
// character outside [A-Za-z_], so it would accept "CAP_CHOWN2".
Result<cap_value_t> parseCapability(const std::string& given, std::string_view option) {
  std::string name = upperCase(given);
  if (!name.starts_with("CAP_")) {
    name.insert(0, "CAP_");
  }
  const cap_value_t kernelLast = kernelLastCapability();
  for (cap_value_t cap = 0; cap <= std::max<cap_value_t>(CAP_LAST_CAP, kernelLast); ++cap) {
    if (capabilityName(cap) != name) {
      continue;
    }
    if (cap > kernelLast) {
      return Error(name + " in " + std::string(option) +
                   " is not supported by this kernel, whose " + "last capability is " +
                   capabilityName(kernelLast));
    }
    return cap;
  }
  return Error("unknown capability \"" + given + "\" in " + std::string(option));
}

struct CapabilityList {
  bool all = false;
  std::set<cap_value_t> caps;
};

Result<CapabilityList> parseCapabilityList(const std::vector<std::string>& names,
                                           std::string_view option) {
  CapabilityList list;
  for (const std::string& name : names) {
    if (isAll(name)) {
      list.all = true;
      continue;
    }
    TANDEM_ASSIGN_OR_RETURN(cap_value_t cap, parseCapability(name, option));
    list.caps.insert(cap);
  }
  return list;
}

std::string joinNames(const std::vector<cap_value_t>& caps) {
  if (caps.empty()) {
    return "none";
  }
  std::string joined;
  for (cap_value_t cap : caps) {
    joined += (joined.empty() ? "" : ",") + capabilityName(cap);
  }
  return joined;
}

}  // namespace

const std::vector<std::string>& defaultCapabilityNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all;
    for (cap_value_t cap : kDefaultCapabilities) {
      all.push_back(capabilityName(cap));
    }
    return all;
  }();
  return names;
}

std::string capabilityName(cap_value_t cap) {
  CapText name(cap_to_name(cap));
  // libcap spells a capability it has no name for as its number.
  if (!name || std::isdigit(static_cast<unsigned char>(name.get()[0]))) {
    return "capability " + std::to_string(cap);
  }
  return upperCase(name.get());
}

Result<std::vector<cap_value_t>> resolveCapabilities(const std::vector<std::string>& add,
                                                     const std::vector<std::string>& drop) {
  TANDEM_ASSIGN_OR_RETURN(CapabilityList added, parseCapabilityList(add, "--cap-add"));
  TANDEM_ASSIGN_OR_RETURN(CapabilityList dropped, parseCapabilityList(drop, "--cap-drop"));

  // docker's TweakCapabilities order: "ALL" in add wins over "ALL" in drop, and an explicit
  // add wins over an explicit drop of the same capability.
  std::set<cap_value_t> kept;
  if (added.all) {
    for (cap_value_t cap = 0; cap <= kernelLastCapability(); ++cap) {
      if (!dropped.caps.contains(cap)) {
        kept.insert(cap);
      }
    }
  } else {
    if (!dropped.all) {
      for (cap_value_t cap : kDefaultCapabilities) {
        if (!dropped.caps.contains(cap)) {
          kept.insert(cap);
        }
      }
    }
    kept.insert(added.caps.begin(), added.caps.end());
  }
  return std::vector<cap_value_t>(kept.begin(), kept.end());
}

std::uint64_t capabilityMask(const std::vector<cap_value_t>& caps) {
  std::uint64_t mask = 0;
  for (cap_value_t cap : caps) {
    mask |= std::uint64_t{1} << cap;
  }
  return mask;
}

Result<bool> hasEffectiveCapability(cap_value_t cap) {
  CapState own(cap_get_proc());
  cap_flag_value_t value = CAP_CLEAR;
  if (!own || cap_get_flag(own.get(), cap, CAP_EFFECTIVE, &value) != 0) {
    return Error::fromErrno("cannot read this process's capabilities");
  }
  return value == CAP_SET;
}

Status dropBoundingSet(const std::vector<cap_value_t>& keep) {
  // Only up to the kernel's last: past it PR_CAPBSET_DROP has nothing to drop (EINVAL).
  for (cap_value_t cap = 0; cap <= kernelLastCapability(); ++cap) {
    if (std::find(keep.begin(), keep.end(), cap) != keep.end()) {
      continue;
    }
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      return Error::fromErrno("cannot drop " + capabilityName(cap) +
                              " from the bounding set (this needs CAP_SETPCAP)");
    }
  }
  return okStatus();
}

Status applyCapabilities(const std::vector<cap_value_t>& keep) {
  CapState state(cap_init());
  if (!state) {
    return Error::fromErrno("cannot allocate a libcap capability state");
  }
  if (!keep.empty()) {
    // Inheritable stays empty: with it set, a file's inheritable caps could hand a non-root
    // workload capabilities on exec (CVE-2022-29162).
    for (cap_flag_t flag : {CAP_EFFECTIVE, CAP_PERMITTED}) {
      if (cap_set_flag(state.get(), flag, static_cast<int>(keep.size()), keep.data(), CAP_SET) !=
          0) {
        return Error::fromErrno("libcap rejects the capability set " + joinNames(keep));
      }
    }
  }
  if (cap_set_proc(state.get()) != 0) {
    return Error::fromErrno("cannot set the effective and permitted capabilities to " +
                            joinNames(keep));
  }
  // Ambient capabilities survive execve of an unprivileged binary; the workload gets none.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    return Error::fromErrno("cannot clear the ambient capability set");
  }
  return okStatus();
}

std::vector<cap_value_t> parseCapabilityNames(const std::vector<std::string>& names,
                                              std::vector<std::string>& unknown) {
  std::set<cap_value_t> caps;
  for (const std::string& name : names) {
    if (auto cap = parseCapability(name, "config.json")) {
      caps.insert(*cap);
    } else {
      unknown.push_back(name);
    }
  }
  return std::vector<cap_value_t>(caps.begin(), caps.end());
}

Status applyCapabilitySets(const CapabilitySets& sets) {
  CapState state(cap_init());
  if (!state) {
    return Error::fromErrno("cannot allocate a libcap capability state");
  }
  for (auto [flag, caps] :
       {std::pair{CAP_EFFECTIVE, &sets.effective}, std::pair{CAP_PERMITTED, &sets.permitted},
        std::pair{CAP_INHERITABLE, &sets.inheritable}}) {
    if (!caps->empty() && cap_set_flag(state.get(), flag, static_cast<int>(caps->size()),
                                       caps->data(), CAP_SET) != 0) {
      return Error::fromErrno("libcap rejects the capability set " + joinNames(*caps));
    }
  }
  if (cap_set_proc(state.get()) != 0) {
    return Error::fromErrno("cannot set the capabilities: effective " + joinNames(sets.effective) +
                            ", permitted " + joinNames(sets.permitted) + ", inheritable " +
                            joinNames(sets.inheritable));
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    return Error::fromErrno("cannot clear the ambient capability set");
  }
  for (cap_value_t cap : sets.ambient) {
    // As runc: an ambient capability that is not also permitted and inheritable cannot be
    // raised, which config.json's writers often overlook; it is left out with a warning.
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
      spdlog::debug("{} stays out of the ambient set: it is not both permitted and inheritable",
                    capabilityName(cap));
    }
  }
  return okStatus();
}

}  // namespace tandem

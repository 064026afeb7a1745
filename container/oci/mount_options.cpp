#include "container/oci/mount_options.h"

#include <sys/mount.h>

#include <array>

namespace tandem::container {

namespace {

struct FlagOption {
  const char* name;
  bool clear;  // "rw" clears MS_RDONLY, "suid" clears MS_NOSUID...
  unsigned long flag;
};

constexpr std::array<FlagOption, 26> kFlagOptions{{
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},
    {"lazytime", false, MS_LAZYTIME},
    {"nolazytime", true, MS_LAZYTIME},
}};

struct PropagationOption {
  const char* name;
  unsigned long flag;
};

constexpr std::array<PropagationOption, 8> kPropagation{{
    {"private", MS_PRIVATE},
    {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},
    {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE},
    {"runbindable", MS_UNBINDABLE | MS_REC},
}};

// Flags that a read-only, nosuid... bind mount only gets from a second, remounting call.
constexpr unsigned long kBindRemountable = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC |
                                           MS_NOATIME | MS_NODIRATIME | MS_RELATIME |
                                           MS_STRICTATIME;

}  // namespace

MountOptions parseMountOptions(const oci::Mount& mount) {
  MountOptions out;
  out.bind = mount.type == "bind";
  if (out.bind) out.flags |= MS_BIND;
  for (const std::string& option : mount.options) {
    if (option == "bind" || option == "rbind") {
      out.bind = true;
      out.flags |= MS_BIND | (option == "rbind" ? MS_REC : 0);
      continue;
    }
    if (option == "defaults" || option == "auto" || option == "noauto" || option == "nofail" ||
        option == "_netdev" || option == "user" || option == "nouser" || option == "users") {
      continue;
    }
    bool handled = false;
    for (const auto& known : kFlagOptions) {
      if (option == known.name) {
        out.flags = known.clear ? out.flags & ~known.flag : out.flags | known.flag;
        handled = true;
        break;
      }
    }
    for (const auto& known : kPropagation) {
      if (!handled && option == known.name) {
        out.propagation.push_back(known.flag);
        handled = true;
      }
    }
    if (!handled) {
      out.data += (out.data.empty() ? "" : ",") + option;
    }
  }
  if (out.bind) {
    out.bindRemountFlags = out.flags & kBindRemountable;
  }
  return out;
}

}  // namespace tandem::container

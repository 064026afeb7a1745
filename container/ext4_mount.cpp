#include "container/ext4_mount.h"

#include <fcntl.h>
#include <sys/mount.h>

#include "container/loop_device.h"

namespace tandem::container {

Result<UniqueFd> detachedExt4Mount(const std::string& file, bool readOnly,
                                   const std::string& what) {
  TANDEM_ASSIGN_OR_RETURN(LoopDevice loop, LoopDevice::attach(file, readOnly));
  UniqueFd context(::fsopen("ext4", FSOPEN_CLOEXEC));
  if (!context) {
    return Error::fromErrno("cannot mount " + what + " " + file + ": this kernel offers no ext4");
  }
  bool configured =
      ::fsconfig(context.get(), FSCONFIG_SET_STRING, "source", loop.path().c_str(), 0) == 0 &&
      (!readOnly || ::fsconfig(context.get(), FSCONFIG_SET_FLAG, "ro", nullptr, 0) == 0) &&
      ::fsconfig(context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0;
  if (!configured) {
    return Error::fromErrno("cannot mount " + what + " " + file +
                            " as ext4 (is it a file holding an ext4 filesystem? mkfs.ext4 makes "
                            "one)");
  }
  UniqueFd tree(::fsmount(context.get(), FSMOUNT_CLOEXEC, readOnly ? MOUNT_ATTR_RDONLY : 0));
  if (!tree) {
    return Error::fromErrno("cannot mount " + what + " " + file);
  }
  return tree;
}

}  // namespace tandem::container

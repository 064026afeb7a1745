#include "container/loop_device.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>

#include <cstring>

#include "common/file.h"

namespace tandem::container {
namespace {

// Another process may claim the free device between LOOP_CTL_GET_FREE and LOOP_CONFIGURE.
constexpr int kAttachAttempts = 16;

}  // namespace

Result<LoopDevice> LoopDevice::attach(const std::string& file, bool readOnly) {
  int access = readOnly ? O_RDONLY : O_RDWR;
  TANDEM_ASSIGN_OR_RETURN(UniqueFd backing, openPath(file, access | O_CLOEXEC));
  auto control = openPath("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (!control) {
    return Error(
        "cannot open /dev/loop-control, through which a container mounts a disk volume; load "
        "the loop module (modprobe loop), or run the workload as a microVM",
        control.error().errnum());
  }
  for (int attempt = 1;; ++attempt) {
    int number = ::ioctl(control->get(), LOOP_CTL_GET_FREE);
    if (number < 0) {
      return Error::fromErrno("cannot find a free loop device for " + file);
    }
    std::string path = "/dev/loop" + std::to_string(number);
    TANDEM_ASSIGN_OR_RETURN(UniqueFd device, openPath(path, access | O_CLOEXEC));
    loop_config config{};
    config.fd = static_cast<__u32>(backing.get());
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR | (readOnly ? LO_FLAGS_READ_ONLY : 0);
    std::strncpy(reinterpret_cast<char*>(config.info.lo_file_name), file.c_str(), LO_NAME_SIZE - 1);
    if (::ioctl(device.get(), LOOP_CONFIGURE, &config) == 0) {
      return LoopDevice(std::move(device), std::move(path));
    }
    if (errno != EBUSY || attempt == kAttachAttempts) {
      return Error::fromErrno("cannot attach " + file + " to " + path);
    }
  }
}

}  // namespace tandem::container

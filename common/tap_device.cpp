#include "common/tap_device.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include <cstring>

#include "common/net_link.h"

namespace tandem {

Result<TapDevice> TapDevice::open(const std::string& name) {
  TANDEM_TRY(checkInterfaceName(name).context("TAP device"));
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    return Error::fromErrno(
        "cannot open /dev/net/tun for the TAP device " + name +
        " (load the tun module, or create the device node: mknod /dev/net/tun c 10 200)");
  }
  ifreq request{};
  std::memcpy(request.ifr_name, name.data(), name.size());
  request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (::ioctl(fd.get(), TUNSETIFF, &request) != 0) {
    return Error::fromErrno("cannot attach to the TAP device " + name +
                            (errno == EPERM ? " (creating one takes CAP_NET_ADMIN; or create it "
                                              "for this user first: ip tuntap add NAME mode tap "
                                              "vnet_hdr user USER)"
                                            : std::string{}));
  }
  int headerBytes = kTapVnetHeaderBytes;
  if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &headerBytes) != 0) {
    return Error::fromErrno("cannot set the virtio-net header size of the TAP device " + name);
  }
  return TapDevice(std::move(fd), std::string(request.ifr_name));
}

Status TapDevice::setOffloads(unsigned tunFlags) {
  if (::ioctl(fd_.get(), TUNSETOFFLOAD, tunFlags) != 0) {
    return Error::fromErrno("cannot set the offloads of the TAP device " + name_);
  }
  return okStatus();
}

}  // namespace tandem

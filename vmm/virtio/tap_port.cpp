#include "vmm/virtio/tap_port.h"

#include <linux/if_tun.h>

namespace tandem::vmm::virtio {

Status TapPort::acceptOffloads(bool checksum, bool tso4, bool tso6) {
  // The kernel takes segmentation offloads only together with checksum offload.
  unsigned flags = 0;
  if (checksum) {
    flags |= TUN_F_CSUM;
    if (tso4) flags |= TUN_F_TSO4;
    if (tso6) flags |= TUN_F_TSO6;
  }
  return tap_.setOffloads(flags);
}

}  // namespace tandem::vmm::virtio

#include "vmm/initrd_source.h"

#include <algorithm>

namespace tandem::vmm {

Result<std::uint64_t> BytesInitrd::writeTo(std::span<std::uint8_t> target) const {
  if (target.size() < bytes_.size()) {
    return Error("the initrd does not fit the room placed for it", ENOSPC);
  }
  std::copy(bytes_.begin(), bytes_.end(), target.begin());
  return bytes_.size();
}

}  // namespace tandem::vmm

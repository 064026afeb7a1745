#include "vmm/virtio/chain_bytes.h"

#include <algorithm>
#include <cstring>

namespace tandem::vmm::virtio {

std::vector<iovec> iovecsOf(const std::vector<ChainBuffer>& buffers, std::size_t offset,
                            std::size_t limit) {
  std::vector<iovec> iovecs;
  for (const ChainBuffer& buffer : buffers) {
    if (limit == 0) break;
    if (offset >= buffer.bytes.size()) {
      offset -= buffer.bytes.size();
      continue;
    }
    std::size_t take = std::min(buffer.bytes.size() - offset, limit);
    iovecs.push_back({buffer.bytes.data() + offset, take});
    limit -= take;
    offset = 0;
  }
  return iovecs;
}

void writeAcross(const std::vector<iovec>& buffers, std::size_t offset,
                 std::span<const std::uint8_t> value) {
  std::size_t done = 0;
  for (const iovec& buffer : buffers) {
    if (done == value.size()) break;
    if (offset >= buffer.iov_len) {
      offset -= buffer.iov_len;
      continue;
    }
    std::size_t take = std::min(buffer.iov_len - offset, value.size() - done);
    std::memcpy(static_cast<std::uint8_t*>(buffer.iov_base) + offset, value.data() + done, take);
    done += take;
    offset = 0;
  }
}

std::size_t readAcross(const std::vector<ChainBuffer>& buffers, std::size_t offset,
                       std::span<std::uint8_t> out) {
  std::size_t done = 0;
  for (const iovec& piece : iovecsOf(buffers, offset, out.size())) {
    std::memcpy(out.data() + done, piece.iov_base, piece.iov_len);
    done += piece.iov_len;
  }
  return done;
}

}  // namespace tandem::vmm::virtio

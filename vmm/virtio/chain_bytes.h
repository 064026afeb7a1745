// Bytes at an offset into a descriptor chain's buffers, wherever the buffers' boundaries fall:
// a driver may split a header over several buffers, and the device must take it as one.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "vmm/virtio/virtqueue.h"

namespace tandem::vmm::virtio {

inline iovec iovecOf(std::span<std::uint8_t> bytes) {
  return iovec{bytes.data(), bytes.size()};
}

// The buffers as iovecs, skipping the first `offset` bytes and stopping after `limit` bytes.
std::vector<iovec> iovecsOf(const std::vector<ChainBuffer>& buffers, std::size_t offset = 0,
                            std::size_t limit = SIZE_MAX);

// Writes `value` at `offset` into the bytes `buffers` cover; what lies past their end is cut.
void writeAcross(const std::vector<iovec>& buffers, std::size_t offset,
                 std::span<const std::uint8_t> value);

// Copies into `out` from `offset` in the bytes `buffers` cover; how many bytes there were.
std::size_t readAcross(const std::vector<ChainBuffer>& buffers, std::size_t offset,
                       std::span<std::uint8_t> out);

}  // namespace tandem::vmm::virtio

#include "vmm/virtio/vsock_packet.h"

namespace tandem::vmm::virtio {
namespace {

template <typename T>
void put(std::span<std::uint8_t, kVsockHeaderBytes> out, std::size_t offset, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out[offset + i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(value) >> (8 * i));
  }
}

template <typename T>
T get(std::span<const std::uint8_t, kVsockHeaderBytes> in, std::size_t offset) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<std::uint64_t>(in[offset + i]) << (8 * i);
  }
  return static_cast<T>(value);
}

}  // namespace

void encodeVsockHeader(const VsockHeader& header, std::span<std::uint8_t, kVsockHeaderBytes> out) {
  put(out, 0, header.srcCid);
  put(out, 8, header.dstCid);
  put(out, 16, header.srcPort);
  put(out, 20, header.dstPort);
  put(out, 24, header.len);
  put(out, 28, header.type);
  put(out, 30, static_cast<std::uint16_t>(header.op));
  put(out, 32, header.flags);
  put(out, 36, header.bufAlloc);
  put(out, 40, header.fwdCnt);
}

VsockHeader decodeVsockHeader(std::span<const std::uint8_t, kVsockHeaderBytes> in) {
  return VsockHeader{.srcCid = get<std::uint64_t>(in, 0),
                     .dstCid = get<std::uint64_t>(in, 8),
                     .srcPort = get<std::uint32_t>(in, 16),
                     .dstPort = get<std::uint32_t>(in, 20),
                     .len = get<std::uint32_t>(in, 24),
                     .type = get<std::uint16_t>(in, 28),
                     .op = static_cast<VsockOp>(get<std::uint16_t>(in, 30)),
                     .flags = get<std::uint32_t>(in, 32),
                     .bufAlloc = get<std::uint32_t>(in, 36),
                     .fwdCnt = get<std::uint32_t>(in, 40)};
}

}  // namespace tandem::vmm::virtio

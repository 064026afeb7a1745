// The header of a virtio-vsock packet (virtio 1.2, section 5.10.6), little-endian on the wire,
// 44 bytes before any payload, and the values tandem's device uses in it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tandem::vmm::virtio {

inline constexpr std::size_t kVsockHeaderBytes = 44;
// The host's address on every guest's vsock.
inline constexpr std::uint64_t kVsockHostCid = 2;
inline constexpr std::uint16_t kVsockTypeStream = 1;

enum class VsockOp : std::uint16_t {
  kInvalid = 0,
  kRequest = 1,
  kResponse = 2,
  kReset = 3,
  kShutdown = 4,
  kData = 5,  // VIRTIO_VSOCK_OP_RW
  kCreditUpdate = 6,
  kCreditRequest = 7,
};

// Shutdown flags: the sender will receive no more, will send no more.
inline constexpr std::uint32_t kVsockShutdownReceive = 1;
inline constexpr std::uint32_t kVsockShutdownSend = 2;

struct VsockHeader {
  std::uint64_t srcCid = 0;
  std::uint64_t dstCid = 0;
  std::uint32_t srcPort = 0;
  std::uint32_t dstPort = 0;
  std::uint32_t len = 0;
  std::uint16_t type = kVsockTypeStream;
  VsockOp op = VsockOp::kInvalid;
  std::uint32_t flags = 0;
  // The sender's receive buffer for this connection and how much of it the sender has consumed:
  // the peer may have bufAlloc - (sent - fwdCnt) bytes in flight.
  std::uint32_t bufAlloc = 0;
  std::uint32_t fwdCnt = 0;
};

void encodeVsockHeader(const VsockHeader& header, std::span<std::uint8_t, kVsockHeaderBytes> out);
VsockHeader decodeVsockHeader(std::span<const std::uint8_t, kVsockHeaderBytes> in);

}  // namespace tandem::vmm::virtio

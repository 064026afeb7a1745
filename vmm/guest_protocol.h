// What tandem's VMM and tandem's guest PID 1 (tools/guest-init) agree on. Header-only: the
// guest init includes it without linking the monitor.
//
// - The workload's description travels in the initramfs, as workload JSON (common/workload.h)
//   at kWorkloadPath; the VMM appends it as a second cpio archive, so the rootfs archive is
//   never rewritten.
// - The workload's stdin travels over COM1 (ttyS0) in raw mode, framed by kEscape below, so that
//   end-of-input survives a byte stream; so do stdout and stderr where there is no vsock. The
//   kernel's own console is COM2 (ttyS1), kept apart from the workload's output.
// - Milestones and the exit status are single 32-bit writes to kStatusPort: one exit each.
// - Where the VMM gives the guest a vsock, the workload's stdout and stderr move there once the
//   init connects to host port kStdioPort: agent frames (agent_protocol.h, kStdout and kStderr),
//   since COM1 moves a few KiB/s under nested virtualization. Stdin stays on COM1, and so does
//   everything when the connection cannot be made. The init ends its side (shutdown) and waits
//   for the VMM's end of stream before it reports the exit status, so no output is lost to the
//   reset.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem::guest {

inline constexpr const char* kWorkloadPath = "/.tandem/workload.json";
inline constexpr const char* kInitPath = "/.tandem/init";

// COM1 carries the workload's stdio, COM2 the guest kernel's console.
inline constexpr std::uint16_t kStdioUartBase = 0x3f8;
inline constexpr unsigned kStdioUartIrq = 4;
inline constexpr std::uint16_t kConsoleUartBase = 0x2f8;
inline constexpr unsigned kConsoleUartIrq = 3;
inline constexpr const char* kStdioTty = "/dev/ttyS0";

// The host vsock port of the workload's output (agent_protocol.h has the guest agent's).
inline constexpr std::uint32_t kStdioPort = 1025;

// A 32-bit `out` to this port: the top byte is a StatusKind, the low byte its payload.
inline constexpr std::uint16_t kStatusPort = 0x0f4;

enum class StatusKind : std::uint8_t {
  // PID 1 is running and has opened the stdio tty in raw mode: the "guest reached init" boot
  // milestone, and the point from which the VMM feeds stdin (bytes sent earlier could be
  // consumed by the 8250 driver's start-up, which reads and discards the receive register).
  kInitStarted = 1,
  kExited = 2,      // payload: the workload's exit code, 0..255
  kSignaled = 3,    // payload: the signal that killed the workload
  kInitFailed = 4,  // payload: 125/126/127 as a container runtime's; the reason went to stderr
  // The workload's process is running: the boot timeline's end of init, and start of the
  // workload (tandem run --stats).
  kWorkloadStarted = 5,
};

constexpr std::uint32_t encodeStatus(StatusKind kind, std::uint8_t payload) {
  return (static_cast<std::uint32_t>(kind) << 24) | payload;
}
constexpr StatusKind statusKind(std::uint32_t value) {
  return static_cast<StatusKind>(value >> 24);
}
constexpr std::uint8_t statusPayload(std::uint32_t value) {
  return static_cast<std::uint8_t>(value & 0xff);
}

// Stdio framing on COM1. kEscape followed by:
// - guest to VMM: kSelectStdout / kSelectStderr switch the stream that following bytes belong
//   to (stdout at first); kInputCredit acknowledges stdin (below); kEscape is a literal 0xff.
// - VMM to guest: kEndOfInput closes the workload's stdin; kEscape is a literal 0xff.
inline constexpr std::uint8_t kEscape = 0xff;
inline constexpr std::uint8_t kEndOfInput = 0x00;
inline constexpr std::uint8_t kSelectStdout = 0x01;
inline constexpr std::uint8_t kSelectStderr = 0x02;
inline constexpr std::uint8_t kInputCredit = 0x03;

// Stdin flow control. A UART has no back-pressure, and the guest kernel drops received bytes
// its tty buffers cannot hold; a VMM that kept COM1's receive queue full also kept the guest
// in its UART interrupt handler, reading, while the init that empties the tty starved. So the
// VMM sends at most kInputWindowBytes of framed stdin beyond what the guest init has
// acknowledged, and the init acknowledges, with one kInputCredit each, every kInputCreditBytes
// it takes off COM1. The window is well under the kernel's 64 KiB of tty flip buffers.
inline constexpr std::size_t kInputWindowBytes = 16 * 1024;
inline constexpr std::size_t kInputCreditBytes = 4 * 1024;

}  // namespace tandem::guest

// The workload's stdio to and from the VMM: COM1 (guest::kStdioTty) in raw mode, carrying the
// framing of vmm/guest_stdio.h.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "vmm/agent_protocol.h"
#include "vmm/guest_stdio.h"

namespace tandem::guest_init {

class StdioChannel {
 public:
  // Opens the tty and makes it a plain byte pipe: no echo, no line editing, no CR/LF
  // translation, no XON/XOFF or RTS/CTS flow control (0x11 and 0x13 are data).
  static Result<StdioChannel> openTty(const std::string& path);
  // For --test-harness: framed input from `in`, framed output to `out`.
  static StdioChannel overFds(int in, int out) { return StdioChannel(UniqueFd(), in, out); }

  int inputFd() const { return in_; }

  // Frames and writes all of `bytes`.
  Status write(guest::OutputStream stream, std::span<const std::uint8_t> bytes);
  // Tells the VMM that `bytes` more were taken off the input, so that it sends more: the VMM
  // holds stdin back beyond a window (vmm/guest_protocol.h).
  Status acknowledgeInput(std::size_t bytes);
  // "tandem-guest-init: TEXT" on the workload's stderr, for a failure the user must see.
  Status writeStderrLine(std::string_view text);
  // Sends the output over a vsock stream to host port `port` from now on, as agent frames
  // (vmm/guest_protocol.h); input and its acknowledgements stay where they were. An error leaves
  // the output where it was.
  Status moveOutputToVsock(std::uint32_t port);
  // Over vsock, how the workload ended and the guest's memory then, as a kExit frame (the
  // status port still carries the exit status); nothing on COM1.
  void reportExit(const guest::ExecExit& exit);
  // Returns once every byte has left the UART, and the VMM has taken the vsock stream's to its
  // end, so none is lost to the reset that follows.
  void drain();

 private:
  StdioChannel(UniqueFd owned, int in, int out) : owned_(std::move(owned)), in_(in), out_(out) {}

  UniqueFd owned_;
  int in_;
  int out_;
  UniqueFd vsock_;
  guest::OutputEncoder encoder_;
  guest::InputAcknowledger acknowledger_;
  std::vector<std::uint8_t> framed_;
};

}  // namespace tandem::guest_init

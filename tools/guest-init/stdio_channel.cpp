#include "tools/guest-init/stdio_channel.h"

#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/file.h"
#include "vmm/agent_protocol.h"

namespace tandem::guest_init {

Result<StdioChannel> StdioChannel::openTty(const std::string& path) {
  TANDEM_ASSIGN_OR_RETURN(
      UniqueFd tty, openPath(path, O_RDWR | O_NOCTTY).context("the workload's stdio channel"));
  termios mode{};
  if (::tcgetattr(tty.get(), &mode) != 0) {
    return Error::fromErrno("cannot read the terminal settings of " + path);
  }
  ::cfmakeraw(&mode);
  // cfmakeraw leaves these: flow control would swallow 0x11/0x13 or stall on modem lines the
  // VMM's UART does not drive.
  mode.c_iflag &= ~(IXOFF | IXANY);
  mode.c_cflag &= ~CRTSCTS;
  mode.c_cflag |= CLOCAL | CREAD;
  mode.c_cc[VMIN] = 1;
  mode.c_cc[VTIME] = 0;
  if (::tcsetattr(tty.get(), TCSANOW, &mode) != 0) {
    return Error::fromErrno("cannot put " + path + " in raw mode");
  }
  int raw = tty.get();
  return StdioChannel(std::move(tty), raw, raw);
}

namespace {

// How long the init waits for the VMM to take the last of the output: past it, the VMM is not
// reading, and the exit status matters more.
constexpr int kOutputDrainMs = 5000;

}  // namespace

Status StdioChannel::moveOutputToVsock(std::uint32_t port) {
  UniqueFd socket(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket) {
    return Error::fromErrno("cannot create a vsock socket for the workload's output");
  }
  sockaddr_vm host{};
  host.svm_family = AF_VSOCK;
  host.svm_cid = VMADDR_CID_HOST;
  host.svm_port = port;
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&host), sizeof host) != 0) {
    return Error::fromErrno("cannot reach the VMM's output port " + std::to_string(port));
  }
  vsock_ = std::move(socket);
  return okStatus();
}

Status StdioChannel::write(guest::OutputStream stream, std::span<const std::uint8_t> bytes) {
  if (vsock_) {
    framed_.clear();
    guest::encodeAgentFrame(stream == guest::OutputStream::kStderr ? guest::AgentFrame::kStderr
                                                                   : guest::AgentFrame::kStdout,
                            bytes, framed_);
    return writeAll(vsock_.get(), framed_, "the workload's output stream")
        .context("cannot pass the workload's output on");
  }
  framed_.clear();
  encoder_.encode(stream, bytes, framed_);
  return writeAll(out_, framed_, "the stdio channel")
      .context("cannot pass the workload's output on");
}

Status StdioChannel::acknowledgeInput(std::size_t bytes) {
  std::size_t credits = acknowledger_.took(bytes);
  if (credits == 0) {
    return okStatus();
  }
  framed_.clear();
  guest::encodeInputCredits(credits, framed_);
  return writeAll(out_, framed_, "the stdio channel")
      .context("cannot acknowledge the workload's input");
}

Status StdioChannel::writeStderrLine(std::string_view text) {
  std::string line = "tandem-guest-init: " + std::string(text) + "\n";
  return write(guest::OutputStream::kStderr, bytesOf(line));
}

void StdioChannel::reportExit(const guest::ExecExit& exit) {
  if (!vsock_) return;
  framed_.clear();
  guest::encodeAgentFrame(guest::AgentFrame::kExit, guest::execExitToJson(exit), framed_);
  if (!writeAll(vsock_.get(), framed_, "the workload's output stream")) {
    vsock_.reset();
  }
}

void StdioChannel::drain() {
  // Not a tty under --test-harness: nothing to wait for then.
  ::tcdrain(out_);
  if (!vsock_) return;
  // The VMM closes its end once it has read everything up to this shutdown.
  ::shutdown(vsock_.get(), SHUT_WR);
  pollfd end{vsock_.get(), POLLIN, 0};
  std::uint8_t byte;
  while (::poll(&end, 1, kOutputDrainMs) > 0 && ::read(vsock_.get(), &byte, 1) > 0) {
  }
  vsock_.reset();
}

}  // namespace tandem::guest_init

#include "tools/guest-init/stdio_channel.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/file.h"

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

Status StdioChannel::write(guest::OutputStream stream, std::span<const std::uint8_t> bytes) {
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

void StdioChannel::drain() const {
  // Not a tty under --test-harness: nothing to wait for then.
  ::tcdrain(out_);
}

}  // namespace tandem::guest_init

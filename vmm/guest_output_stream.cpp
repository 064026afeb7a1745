#include "vmm/guest_output_stream.h"

#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "common/file.h"
#include "common/log.h"
#include "common/unix_socket.h"

namespace tandem::vmm {

void writeOrDrop(int fd, std::span<const std::uint8_t> bytes) {
  if (auto written = writeAll(fd, bytes, "the workload's output"); !written) {
    spdlog::debug("dropped guest output: {}", written.error().describe());
  }
}

Result<GuestOutputStream> GuestOutputStream::listen(const std::string& path, int stdoutFd,
                                                    int stderrFd) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd listener, listenUnixSocket(path, 1));
  return GuestOutputStream(path, std::move(listener), stdoutFd, stderrFd);
}

GuestOutputStream::~GuestOutputStream() {
  if (!path_.empty() && listener_) {
    ::unlink(path_.c_str());
  }
}

int GuestOutputStream::pollFd() const {
  return stream_ ? stream_.get() : listener_.get();
}

void GuestOutputStream::ready() {
  if (stream_) {
    readOnce();
    return;
  }
  if (!listener_) return;
  int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return;
  stream_.reset(fd);
  // One connection per VM: nothing else may write the workload's output.
  ::unlink(path_.c_str());
  listener_.reset();
}

void GuestOutputStream::drain() {
  while (stream_ && readOnce()) {
  }
}

bool GuestOutputStream::readOnce() {
  std::uint8_t buffer[64 * 1024];
  ssize_t n = ::read(stream_.get(), buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
    return false;
  }
  if (n <= 0) {
    // The guest's end of stream: closing ours tells its init that everything arrived.
    stream_.reset();
    return false;
  }
  std::vector<guest::AgentMessage> messages;
  if (auto decoded = decoder_.decode({buffer, static_cast<std::size_t>(n)}, messages); !decoded) {
    spdlog::warn("the workload's output stream: {}; it is closed", decoded.error().describe());
    stream_.reset();
    return false;
  }
  for (const guest::AgentMessage& message : messages) {
    if (message.kind == guest::AgentFrame::kExit) {
      std::string_view text(reinterpret_cast<const char*>(message.payload.data()),
                            message.payload.size());
      if (auto report = guest::execExitFromJson(text)) {
        exitReport_ = *report;
      } else {
        spdlog::debug("the workload's output stream: {}", report.error().describe());
      }
      continue;
    }
    int fd = message.kind == guest::AgentFrame::kStdout   ? stdoutFd_
             : message.kind == guest::AgentFrame::kStderr ? stderrFd_
                                                          : -1;
    if (fd < 0) {
      spdlog::debug("the workload's output stream: a frame of kind {} ignored",
                    static_cast<int>(message.kind));
      continue;
    }
    writeOrDrop(fd, message.payload);
  }
  return true;
}

}  // namespace tandem::vmm

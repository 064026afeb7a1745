// The VMM's end of the workload's output over vsock (guest_protocol.h, kStdioPort): a Unix socket
// where the vsock device delivers the guest init's connection, read on the main loop, its agent
// frames written to the workload's stdout and stderr, and the init's exit report kept. Until the
// guest connects, the output is on COM1; a guest that never connects leaves it there.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "vmm/agent_protocol.h"

namespace tandem::vmm {

// Writes guest output to `fd`. Output that tandem's side cannot take any more (a closed pipe) is
// dropped, not fatal to the VM.
void writeOrDrop(int fd, std::span<const std::uint8_t> bytes);

class GuestOutputStream {
 public:
  // Listens at `path`, which is removed again with this object.
  static Result<GuestOutputStream> listen(const std::string& path, int stdoutFd, int stderrFd);

  GuestOutputStream(GuestOutputStream&&) = default;
  GuestOutputStream& operator=(GuestOutputStream&&) = delete;
  ~GuestOutputStream();

  // What the main loop polls for input: the listener until the guest connects, then the stream;
  // -1 once the stream has ended.
  int pollFd() const;
  // The polled fd is ready: accepts the guest, or moves what it sent to stdout and stderr.
  void ready();
  // At the VM's end: moves whatever is still buffered.
  void drain();
  // The guest init's report of how the workload ended, with the guest's memory then, once it
  // came (a kExit frame before the end of stream).
  const std::optional<guest::ExecExit>& exitReport() const { return exitReport_; }

 private:
  GuestOutputStream(std::string path, UniqueFd listener, int stdoutFd, int stderrFd)
      : path_(std::move(path)),
        listener_(std::move(listener)),
        stdoutFd_(stdoutFd),
        stderrFd_(stderrFd) {}
  // One read; false when nothing more can come now.
  bool readOnce();

  std::string path_;
  UniqueFd listener_;
  UniqueFd stream_;
  int stdoutFd_;
  int stderrFd_;
  guest::AgentFrameDecoder decoder_;
  std::optional<guest::ExecExit> exitReport_;
};

}  // namespace tandem::vmm

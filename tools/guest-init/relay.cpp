#include "tools/guest-init/relay.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <vector>

#include "tools/guest-init/console.h"
#include "tools/guest-init/stdin_feed.h"
#include "vmm/guest_stdio.h"

namespace tandem::guest_init {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
// After the main process exits and the rest are killed, output pipes reach EOF at once; only a
// process stuck in the kernel could hold one open. This much silence ends the drain.
constexpr int kDrainSilenceMs = 1000;

class Relay {
 public:
  Relay(StdioChannel& channel, StartedWorkload& workload, UniqueFd signals)
      : channel_(channel),
        workload_(workload),
        signals_(std::move(signals)),
        input_(workload.stdinPipe) {}

  Result<ExitStatus> run() {
    while (!mainExit_ || workload_.stdoutPipe || workload_.stderrPipe) {
      fds_.clear();
      watched_.clear();
      watch(signals_.get(), POLLIN, Source::kSignals);
      if (acceptsInput()) {
        watch(channel_.inputFd(), POLLIN, Source::kChannel);
      }
      if (input_.writeFd() >= 0) {
        watch(input_.writeFd(), POLLOUT, Source::kStdin);
      }
      if (workload_.stdoutPipe) {
        watch(workload_.stdoutPipe.get(), POLLIN, Source::kStdout);
      }
      if (workload_.stderrPipe) {
        watch(workload_.stderrPipe.get(), POLLIN, Source::kStderr);
      }
      int ready = ::poll(fds_.data(), fds_.size(), mainExit_ ? kDrainSilenceMs : -1);
      if (ready < 0) {
        if (errno == EINTR) {
          continue;
        }
        return Error::fromErrno("cannot wait for the workload's stdio");
      }
      if (ready == 0) {
        consoleMessage("a process that would not die still holds the workload's output open");
        break;
      }
      for (std::size_t i = 0; i < fds_.size(); ++i) {
        if (fds_[i].revents != 0) {
          handle(watched_[i]);
        }
      }
    }
    return *mainExit_;
  }

 private:
  enum class Source { kSignals, kChannel, kStdin, kStdout, kStderr };

  void watch(int fd, short events, Source source) {
    fds_.push_back({fd, events, 0});
    watched_.push_back(source);
  }

  // Past StdinFeed::kMaxPending, init stops reading the UART and lets the kernel's tty buffers
  // hold the rest.
  bool acceptsInput() const {
    return !mainExit_ && workload_.stdinPipe && !input_.ended() && input_.hasRoom();
  }

  void handle(Source source) {
    switch (source) {
      case Source::kSignals:
        reap();
        break;
      case Source::kChannel:
        readInput();
        break;
      case Source::kStdin:
        input_.write();
        break;
      case Source::kStdout:
        readOutput(workload_.stdoutPipe, guest::OutputStream::kStdout);
        break;
      case Source::kStderr:
        readOutput(workload_.stderrPipe, guest::OutputStream::kStderr);
        break;
    }
  }

  void reap() {
    signalfd_siginfo info;
    while (::read(signals_.get(), &info, sizeof info) == sizeof info) {
    }
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid == workload_.pid) {
        mainExit_ = ExitStatus::fromWaitStatus(status);
      }
    }
    if (mainExit_) {
      // Again at every exit after the main one: a process forking at the first kill could
      // have left a child behind.
      ::kill(-1, SIGKILL);
      input_.discard();
    }
  }

  void readInput() {
    std::uint8_t buffer[4096];
    ssize_t n = ::read(channel_.inputFd(), buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      return;
    }
    if (n <= 0) {
      // A hung-up tty, or the end of the test harness's input: no more stdin either way.
      if (n < 0) {
        consoleMessage(Error::fromErrno("cannot read the stdio channel").describe());
      }
      input_.end();
      return;
    }
    auto decoded = decoder_.decode({buffer, static_cast<std::size_t>(n)}, input_.pending());
    if (!decoded) {
      consoleMessage(decoded.error().describe());
    }
    if (decoder_.ended()) {
      input_.end();
    } else if (!channelBroken_) {
      if (auto acknowledged = channel_.acknowledgeInput(static_cast<std::size_t>(n));
          !acknowledged) {
        consoleMessage(acknowledged.error().describe() + "; the workload's output is lost");
        channelBroken_ = true;
      }
    }
  }

  void readOutput(UniqueFd& pipe, guest::OutputStream stream) {
    ssize_t n = ::read(pipe.get(), outputBuffer_.data(), outputBuffer_.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      return;
    }
    if (n <= 0) {
      pipe.reset();
      return;
    }
    if (channelBroken_) {
      return;
    }
    auto written = channel_.write(stream, {outputBuffer_.data(), static_cast<std::size_t>(n)});
    if (!written) {
      // Keep reading, so the workload does not block on a full pipe, and keep reaping.
      consoleMessage(written.error().describe() + "; the workload's output is lost from here");
      channelBroken_ = true;
    }
  }

  StdioChannel& channel_;
  StartedWorkload& workload_;
  UniqueFd signals_;
  std::vector<pollfd> fds_;
  std::vector<Source> watched_;
  guest::InputDecoder decoder_;
  StdinFeed input_;
  bool channelBroken_ = false;
  std::vector<std::uint8_t> outputBuffer_ = std::vector<std::uint8_t>(kReadChunk);
  std::optional<ExitStatus> mainExit_;
};

}  // namespace

Result<ExitStatus> relayUntilExit(StdioChannel& channel, StartedWorkload& workload) {
  sigset_t childExits;
  sigemptyset(&childExits);
  sigaddset(&childExits, SIGCHLD);
  int fd = ::signalfd(-1, &childExits, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) {
    return Error::fromErrno(
        "cannot create a signalfd for SIGCHLD (the guest kernel needs CONFIG_SIGNALFD=y)");
  }
  return Relay(channel, workload, UniqueFd(fd)).run();
}

}  // namespace tandem::guest_init

#include "tools/guest-init/agent.h"

#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/file.h"
#include "common/process.h"
#include "common/unique_fd.h"
#include "common/workload.h"
#include "tools/guest-init/console.h"
#include "tools/guest-init/guest_container.h"
#include "tools/guest-init/launch_rules.h"
#include "tools/guest-init/meminfo.h"
#include "tools/guest-init/spawn.h"
#include "tools/guest-init/stdin_feed.h"
#include "vmm/agent_protocol.h"

namespace tandem::guest_init {
namespace {

using guest::AgentFrame;
using guest::AgentMessage;

constexpr std::size_t kReadChunk = 64 * 1024;
// As for the workload (relay.cpp): once the process has exited, this much silence on its output
// pipes ends the session even if a background child still holds them.
constexpr int kDrainSilenceMs = 1000;

struct Request {
  AgentFrame kind = AgentFrame::kExec;
  Workload workload;
};

bool isRequest(AgentFrame kind) {
  return kind == AgentFrame::kExec || kind == AgentFrame::kRunContainer ||
         kind == AgentFrame::kContainerExec;
}

class Session {
 public:
  explicit Session(UniqueFd socket) : socket_(std::move(socket)), input_(process_.stdinPipe) {}

  void run() {
    auto request = receiveRequest();
    if (!request) {
      send(AgentFrame::kError, request.error().describe());
      return;
    }
    const Workload& workload = request->workload;
    if (request->kind == AgentFrame::kUsageRequest) {
      auto usage = containerUsage(workload.id);
      if (usage) {
        send(AgentFrame::kUsage, guest::containerUsageToJson(*usage));
      } else {
        send(AgentFrame::kError, usage.error().describe());
      }
      return;
    }
    ChildEntry enter;
    if (request->kind == AgentFrame::kRunContainer) {
      auto prepared = GuestContainer::prepare(workload);
      if (!prepared) {
        send(AgentFrame::kError, prepared.error().describe());
        return;
      }
      container_.emplace(std::move(prepared).value());
      enter = [this, &workload] { return container_->enter(workload); };
    } else if (request->kind == AgentFrame::kContainerExec) {
      if (Status joined = joinContainer(workload.id); !joined) {
        send(AgentFrame::kError, joined.error().describe());
        return;
      }
    }
    auto started = startWorkload(workload, workloadEnvironment(workload), enter);
    if (!started) {
      send(AgentFrame::kError, started.error().describe());
      return;
    }
    process_ = std::move(started).value();
    if (container_) {
      if (Status recorded = container_->started(process_.pid); !recorded) {
        consoleMessage(recorded.error().describe() + "; tandem exec cannot reach this container");
      }
      if (!process_.failureCode) send(AgentFrame::kStarted, std::string_view());
    }
    relay();
    reportExit();
  }

 private:
  Result<Request> receiveRequest() {
    while (messages_.empty()) {
      std::uint8_t buffer[4096];
      ssize_t n = ::read(socket_.get(), buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Error("the host closed the exec session before its request", EPIPE);
      TANDEM_TRY(decoder_.decode({buffer, static_cast<std::size_t>(n)}, messages_));
    }
    AgentMessage request = std::move(messages_.front());
    messages_.erase(messages_.begin());
    if (request.kind == AgentFrame::kUsageRequest) {
      Request usage{request.kind, Workload{}};
      usage.workload.id.assign(request.payload.begin(), request.payload.end());
      return usage;
    }
    if (!isRequest(request.kind)) {
      return Error("an agent session must begin with its request", EPROTO);
    }
    auto json = nlohmann::json::parse(request.payload, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) {
      return Error("the agent request is not valid JSON", EINVAL);
    }
    TANDEM_ASSIGN_OR_RETURN(Workload workload, workloadFromJson(json));
    if (workload.command.empty()) {
      return Error("the agent request has no command", EINVAL);
    }
    return Request{request.kind, std::move(workload)};
  }

  void relay() {
    sigset_t childExits;
    sigemptyset(&childExits);
    sigaddset(&childExits, SIGCHLD);
    UniqueFd exits(::signalfd(-1, &childExits, SFD_NONBLOCK | SFD_CLOEXEC));
    // Input that came with the request.
    takeMessages();
    while (!exit_ || process_.stdoutPipe || process_.stderrPipe) {
      std::vector<pollfd> fds = {{exits.get(), POLLIN, 0},
                                 {acceptsInput() ? socket_.get() : -1, POLLIN, 0},
                                 {process_.stdoutPipe.get(), POLLIN, 0},
                                 {process_.stderrPipe.get(), POLLIN, 0},
                                 {input_.writeFd(), POLLOUT, 0}};
      int ready = ::poll(fds.data(), fds.size(), exit_ ? kDrainSilenceMs : -1);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;
      if (fds[0].revents & POLLIN) reap(exits.get());
      if (fds[1].revents) readSocket();
      if (fds[2].revents) forward(process_.stdoutPipe, AgentFrame::kStdout);
      if (fds[3].revents) forward(process_.stderrPipe, AgentFrame::kStderr);
      if (fds[4].revents) input_.write();
    }
    if (!exit_) {
      // The host went away, or the pipes hung: the process does not outlive its session.
      ::kill(-process_.pid, SIGKILL);
      int status = 0;
      ::waitpid(process_.pid, &status, 0);
      exit_ = ExitStatus::fromWaitStatus(status);
    }
  }

  // Past StdinFeed::kMaxPending the socket is not read and the host's writes wait.
  bool acceptsInput() const { return socket_ && (exit_ || input_.hasRoom()); }

  void reap(int exitsFd) {
    signalfd_siginfo info;
    while (::read(exitsFd, &info, sizeof info) == sizeof info) {
    }
    int status = 0;
    if (::waitpid(process_.pid, &status, WNOHANG) == process_.pid) {
      exit_ = ExitStatus::fromWaitStatus(status);
      input_.discard();
    }
  }

  void readSocket() {
    std::uint8_t buffer[kReadChunk];
    ssize_t n = ::read(socket_.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) return;
    if (n <= 0) {
      socket_.reset();
      if (!exit_) ::kill(-process_.pid, SIGKILL);
      return;
    }
    if (auto decoded = decoder_.decode({buffer, static_cast<std::size_t>(n)}, messages_);
        !decoded) {
      consoleMessage("exec session: " + decoded.error().describe());
      socket_.reset();
      if (!exit_) ::kill(-process_.pid, SIGKILL);
      return;
    }
    takeMessages();
  }

  void takeMessages() {
    for (AgentMessage& message : messages_) {
      if (message.kind == AgentFrame::kStdin) {
        input_.add(message.payload);
      } else if (message.kind == AgentFrame::kStdinEnd) {
        input_.end();
      } else if (message.kind == AgentFrame::kSignal) {
        deliver(message.payload);
      }
    }
    messages_.clear();
  }

  // To the process itself, as a signal to a container goes to its first process.
  void deliver(const std::vector<std::uint8_t>& payload) {
    int signal = 0;
    auto text = reinterpret_cast<const char*>(payload.data());
    auto [end, error] = std::from_chars(text, text + payload.size(), signal);
    if (error != std::errc() || end != text + payload.size() || signal <= 0 || signal >= NSIG) {
      consoleMessage("agent session: ignoring a request for signal \"" +
                     std::string(text, payload.size()) + "\"");
      return;
    }
    if (!exit_) ::kill(process_.pid, signal);
  }

  void forward(UniqueFd& pipe, AgentFrame kind) {
    std::uint8_t buffer[kReadChunk];
    ssize_t n = ::read(pipe.get(), buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
      pipe.reset();
      return;
    }
    send(kind, {buffer, static_cast<std::size_t>(n)});
  }

  void send(AgentFrame kind, std::span<const std::uint8_t> payload) {
    if (!socket_) return;
    std::vector<std::uint8_t> frame;
    guest::encodeAgentFrame(kind, payload, frame);
    if (!writeAll(socket_.get(), frame, "the exec session")) {
      socket_.reset();
    }
  }
  void send(AgentFrame kind, std::string_view text) {
    send(kind, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  }

  void reportExit() {
    guest::ExecExit report;
    if (exit_->signaled) {
      report.signal = exit_->signal;
    } else {
      report.exitCode = process_.failureCode.value_or(exit_->code);
    }
    addGuestMemory(report);
    send(AgentFrame::kExit, guest::execExitToJson(report));
  }

  UniqueFd socket_;
  guest::AgentFrameDecoder decoder_;
  std::vector<AgentMessage> messages_;
  StartedWorkload process_;
  std::optional<ExitStatus> exit_;
  StdinFeed input_;
  // Declared last, so destroyed first: its cgroup and pid file go once the session is over.
  std::optional<GuestContainer> container_;
};

[[noreturn]] void serve(UniqueFd listener) {
  // Sessions are reaped by the kernel; each session waits for its own process.
  ::signal(SIGCHLD, SIG_IGN);
  for (;;) {
    int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EINTR && errno != ECONNABORTED) {
        consoleMessage(Error::fromErrno("the guest agent cannot accept").describe());
        ::sleep(1);
      }
      continue;
    }
    UniqueFd socket(fd);
    pid_t pid = ::fork();
    if (pid == 0) {
      listener.reset();
      ::signal(SIGCHLD, SIG_DFL);
      Session(std::move(socket)).run();
      ::_exit(0);
    }
    if (pid < 0) {
      consoleMessage(Error::fromErrno("the guest agent cannot fork a session").describe());
    }
  }
}

}  // namespace

Result<pid_t> startAgent() {
  UniqueFd listener(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener) {
    return Error::fromErrno("the guest agent cannot create a vsock socket");
  }
  sockaddr_vm address{};
  address.svm_family = AF_VSOCK;
  address.svm_cid = VMADDR_CID_ANY;
  address.svm_port = guest::kAgentPort;
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener.get(), 16) != 0) {
    return Error::fromErrno("the guest agent cannot listen on vsock port " +
                            std::to_string(guest::kAgentPort));
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    return Error::fromErrno("cannot fork the guest agent");
  }
  if (pid == 0) {
    serve(std::move(listener));
  }
  return pid;
}

}  // namespace tandem::guest_init

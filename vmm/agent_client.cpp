#include "vmm/agent_client.h"

#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/file.h"
#include "common/unix_socket.h"
#include "vmm/task_vm.h"
#include "vmm/vm_backend.h"

namespace tandem::vmm {
namespace {

// "OK 1073741824\n" and room to spare.
constexpr std::size_t kMaxReplyLine = 64;

// The microVMs under the state root whose folder holds a vsock socket (no socket: finished, or
// from before vsock), as they were started; and the task containers inside one, which reach
// it through their task's microVM's socket.
std::vector<RunningVm> microVms(const std::string& stateRoot) {
  std::vector<RunningVm> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(stateRoot + "/vms", error)) {
    auto workload = readWorkloadConfig(entry.path().string());
    if (!workload) continue;
    if (runsInTaskVm(*workload)) {
      std::string socket = vsockSocketPath(stateRoot, workload->networkPeer->id);
      if (!pathExists(socket)) continue;
      found.push_back({std::move(workload).value(), socket, guest::AgentFrame::kContainerExec});
      continue;
    }
    std::string socket = vsockSocketPath(stateRoot, workload->id);
    if (!pathExists(socket)) continue;
    found.push_back({std::move(workload).value(), socket});
  }
  return found;
}

// A socket nobody listens on is a VMM that was killed and left its folder behind.
bool listening(const RunningVm& vm) {
  return connectUnixSocket(vm.socketPath).ok();
}

}  // namespace

Result<RunningVm> findRunningVm(const std::string& stateRoot, const std::string& nameOrId) {
  if (nameOrId.empty()) {
    return Error("name a microVM by its id or its name", EINVAL);
  }
  std::vector<RunningVm> byPrefix;
  for (RunningVm& vm : microVms(stateRoot)) {
    bool named = vm.workload.id == nameOrId || vm.workload.name == nameOrId;
    if (!named && !vm.workload.id.starts_with(nameOrId)) continue;
    if (!listening(vm)) continue;
    if (named) return std::move(vm);
    byPrefix.push_back(std::move(vm));
  }
  if (byPrefix.size() == 1) {
    return std::move(byPrefix.front());
  }
  if (byPrefix.empty()) {
    return Error("no running microVM is named or has the id \"" + nameOrId + "\" under " +
                     stateRoot +
                     " (tandem exec reaches microVMs started by tandem run "
                     "--isolation vm)",
                 ENOENT);
  }
  std::string ids;
  for (const RunningVm& vm : byPrefix) ids += " " + vm.workload.id;
  return Error(
      "\"" + nameOrId + "\" begins the id of several microVMs:" + ids + "; give more of it",
      EINVAL);
}

Result<UniqueFd> connectToAgent(const std::string& socketPath) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd stream, connectUnixSocket(socketPath));
  std::string request = "CONNECT " + std::to_string(guest::kAgentPort) + "\n";
  TANDEM_TRY(writeAll(stream.get(), request, socketPath));
  std::string reply;
  while (reply.size() < kMaxReplyLine && !reply.ends_with('\n')) {
    char byte;
    ssize_t n = ::read(stream.get(), &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Error("the guest agent behind " + socketPath +
                       " does not answer: the microVM is still booting, or its init has no "
                       "agent; try again in a moment",
                   ECONNREFUSED);
    }
    reply.push_back(byte);
  }
  if (!reply.starts_with("OK ")) {
    return Error("the vsock socket " + socketPath + " answered \"" + reply +
                     "\" instead of OK; is it a tandem microVM's?",
                 EPROTO);
  }
  return stream;
}

Result<guest::ExecExit> execInGuest(int agent, guest::AgentFrame request, const Workload& process,
                                    ExecStreams streams) {
  std::vector<std::uint8_t> out;
  guest::encodeAgentFrame(request, toJson(process).dump(), out);
  if (streams.stdinFd < 0) {
    guest::encodeAgentFrame(guest::AgentFrame::kStdinEnd, std::string_view(), out);
  }
  TANDEM_TRY(writeAll(agent, out, "the guest agent"));
  bool inputOpen = streams.stdinFd >= 0;
  guest::AgentFrameDecoder decoder;
  std::vector<guest::AgentMessage> messages;
  std::vector<std::uint8_t> buffer(64 * 1024);
  for (;;) {
    pollfd fds[] = {{agent, POLLIN, 0},
                    {inputOpen ? streams.stdinFd : -1, POLLIN, 0},
                    {streams.signalFd, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("cannot wait for the guest agent");
    }
    if (fds[2].revents) {
      signalfd_siginfo info{};
      if (::read(streams.signalFd, &info, sizeof info) == sizeof info) {
        out.clear();
        guest::encodeAgentFrame(guest::AgentFrame::kSignal, std::to_string(info.ssi_signo), out);
        TANDEM_TRY(writeAll(agent, out, "the guest agent"));
      }
    }
    if (fds[1].revents) {
      ssize_t n = ::read(streams.stdinFd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      out.clear();
      if (n <= 0) {
        inputOpen = false;
        guest::encodeAgentFrame(guest::AgentFrame::kStdinEnd, std::string_view(), out);
      } else {
        guest::encodeAgentFrame(guest::AgentFrame::kStdin,
                                {buffer.data(), static_cast<std::size_t>(n)}, out);
      }
      TANDEM_TRY(writeAll(agent, out, "the guest agent"));
    }
    if (!fds[0].revents) continue;
    ssize_t n = ::read(agent, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Error("the microVM closed the exec session before the process ended", EPIPE);
    }
    messages.clear();
    TANDEM_TRY(decoder.decode({buffer.data(), static_cast<std::size_t>(n)}, messages));
    for (const guest::AgentMessage& message : messages) {
      std::string_view text(reinterpret_cast<const char*>(message.payload.data()),
                            message.payload.size());
      switch (message.kind) {
        case guest::AgentFrame::kStdout:
        case guest::AgentFrame::kStderr: {
          int fd = message.kind == guest::AgentFrame::kStdout ? streams.stdoutFd : streams.stderrFd;
          // A closed reader on our side loses the output, not the session.
          static_cast<void>(writeAll(fd, message.payload, "exec output"));
          break;
        }
        case guest::AgentFrame::kStarted:
          if (streams.startedFd >= 0) {
            static_cast<void>(writeAll(streams.startedFd, std::string_view("s"), "started"));
          }
          break;
        case guest::AgentFrame::kExit:
          return guest::execExitFromJson(text);
        case guest::AgentFrame::kError:
          return Error("the guest agent could not run it: " + std::string(text), EIO);
        default:
          return Error("the guest agent sent a frame that only the host sends", EPROTO);
      }
    }
  }
}

Result<guest::ContainerUsage> containerUsageInGuest(int agent, const std::string& id) {
  std::vector<std::uint8_t> out;
  guest::encodeAgentFrame(guest::AgentFrame::kUsageRequest, id, out);
  TANDEM_TRY(writeAll(agent, out, "the guest agent"));
  guest::AgentFrameDecoder decoder;
  std::vector<guest::AgentMessage> messages;
  std::vector<std::uint8_t> buffer(4096);
  while (messages.empty()) {
    ssize_t n = ::read(agent, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error("the microVM closed the session before it answered", EPIPE);
    TANDEM_TRY(decoder.decode({buffer.data(), static_cast<std::size_t>(n)}, messages));
  }
  std::string_view text(reinterpret_cast<const char*>(messages.front().payload.data()),
                        messages.front().payload.size());
  if (messages.front().kind == guest::AgentFrame::kError) {
    return Error("the guest agent could not read it: " + std::string(text), EIO);
  }
  if (messages.front().kind != guest::AgentFrame::kUsage) {
    return Error("the guest agent answered a usage request with another frame", EPROTO);
  }
  return guest::containerUsageFromJson(text);
}

}  // namespace tandem::vmm

// What `tandem exec` and the guest agent (tools/guest-init/agent.h) say to each other over one
// vsock stream to guest port kAgentPort. Shared, like guest_protocol.h: the guest init compiles
// the .cpp itself.
//
// Each message is a frame: a kind byte, a little-endian 32-bit length, then that many bytes.
// - host to guest: one request, then kStdin bytes and one kStdinEnd, and kSignal (the number as
//   decimal text) for each signal the process should get. The request is the process as
//   workload JSON (common/workload.h), and its kind says where the process runs:
//   - kExec: in the guest's own root (command, env, workdir, user, rlimits);
//   - kRunContainer: as a container of its own, the way a task's containers run in one microVM:
//     its id, hostname and limits besides, and its rootfs an image disk the guest has mounted;
//   - kContainerExec: in the running container whose id the request's id is, joining its
//     namespaces and cgroup (tandem exec into such a container);
// - guest to host: for kRunContainer, kStarted once the container's first process runs; then
//   kStdout and kStderr bytes as the process writes them, then kExit (JSON: the
//   exit code or the signal, and the guest's memory), or kError (text) when it could not start.
// A session may instead be one kUsageRequest (a running container's id) answered by one kUsage
// (JSON, ContainerUsage) or kError: `tandem stats` of a task's container in a microVM.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace tandem::guest {

inline constexpr std::uint32_t kAgentPort = 1024;

enum class AgentFrame : std::uint8_t {
  kExec = 1,
  kStdin = 2,
  kStdinEnd = 3,
  kStdout = 4,
  kStderr = 5,
  kExit = 6,
  kError = 7,
  kRunContainer = 8,
  kContainerExec = 9,
  kSignal = 10,
  kUsageRequest = 11,
  kUsage = 12,
  kStarted = 13,
};

inline constexpr std::size_t kAgentFrameHeaderBytes = 5;
// A frame larger than this is a broken stream, not a message.
inline constexpr std::uint32_t kMaxAgentPayload = 1u << 20;

void encodeAgentFrame(AgentFrame kind, std::span<const std::uint8_t> payload,
                      std::vector<std::uint8_t>& out);
void encodeAgentFrame(AgentFrame kind, std::string_view payload, std::vector<std::uint8_t>& out);

struct AgentMessage {
  AgentFrame kind = AgentFrame::kError;
  std::vector<std::uint8_t> payload;
};

// Takes bytes split anywhere. The peer is not trusted: an unknown kind or an oversized length is
// an error, after which the stream cannot be framed again and must be closed.
class AgentFrameDecoder {
 public:
  Status decode(std::span<const std::uint8_t> bytes, std::vector<AgentMessage>& messages);

 private:
  std::vector<std::uint8_t> pending_;
  bool broken_ = false;
};

// How an exec'd process ended, with the guest's memory at that moment.
struct ExecExit {
  std::optional<int> exitCode;
  std::optional<int> signal;
  std::uint64_t guestMemoryTotalBytes = 0;
  std::uint64_t guestMemoryAvailableBytes = 0;
};

std::string execExitToJson(const ExecExit& exit);
Result<ExecExit> execExitFromJson(std::string_view text);

// What a container in the guest uses now, from its cgroup.
struct ContainerUsage {
  std::uint64_t cpuNanos = 0;
  std::uint64_t memoryBytes = 0;
  std::uint64_t memoryLimitBytes = 0;  // 0: none
  std::uint64_t processes = 0;
};

std::string containerUsageToJson(const ContainerUsage& usage);
Result<ContainerUsage> containerUsageFromJson(std::string_view text);

}  // namespace tandem::guest

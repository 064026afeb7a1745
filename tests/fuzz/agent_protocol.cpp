// What a guest sends its host besides virtio descriptors: the agent's frames over vsock (split
// anywhere, as a stream delivers them) with their JSON payloads, and the stdio framing on the
// serial port. A frame that decodes must survive being encoded and decoded again unchanged; a
// request's payload is read as the workload JSON the agent takes.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/workload.h"
#include "tests/fuzz/fuzz_input.h"
#include "vmm/agent_protocol.h"
#include "vmm/guest_stdio.h"

using namespace tandem;
using namespace tandem::guest;

namespace {

void readPayload(const AgentMessage& message) {
  std::string text(message.payload.begin(), message.payload.end());
  switch (message.kind) {
    case AgentFrame::kExit:
      (void)execExitFromJson(text);
      break;
    case AgentFrame::kUsage:
      (void)containerUsageFromJson(text);
      break;
    case AgentFrame::kExec:
    case AgentFrame::kRunContainer:
    case AgentFrame::kContainerExec: {
      auto json = nlohmann::json::parse(text, nullptr, false);
      if (!json.is_discarded()) {
        (void)workloadFromJson(json);
      }
      break;
    }
    default:
      break;
  }
}

void checkRoundTrip(const AgentMessage& message) {
  std::vector<std::uint8_t> encoded;
  encodeAgentFrame(message.kind, message.payload, encoded);
  AgentFrameDecoder decoder;
  std::vector<AgentMessage> again;
  fuzzCheck(decoder.decode(encoded, again).ok(), "an encoded frame decodes");
  fuzzCheck(
      again.size() == 1 && again[0].kind == message.kind && again[0].payload == message.payload,
      "a frame decodes to what was encoded");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput input(data, size);
  bool stdio = input.take<std::uint8_t>() & 1;
  AgentFrameDecoder frames;
  OutputDecoder output;
  while (!input.empty()) {
    auto piece = input.bytes(input.take<std::uint8_t>() + 1u);
    if (stdio) {
      std::vector<OutputChunk> chunks;
      (void)output.decode(piece, chunks);
      (void)output.takeInputCredits();
      continue;
    }
    std::vector<AgentMessage> messages;
    auto decoded = frames.decode(piece, messages);
    for (const auto& message : messages) {
      fuzzCheck(message.payload.size() <= kMaxAgentPayload, "a frame's payload is bounded");
      checkRoundTrip(message);
      readPayload(message);
    }
    if (!decoded) {
      break;
    }
  }
  return 0;
}

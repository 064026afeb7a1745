#include "vmm/agent_protocol.h"

#include <nlohmann/json.hpp>

namespace tandem::guest {

void encodeAgentFrame(AgentFrame kind, std::span<const std::uint8_t> payload,
                      std::vector<std::uint8_t>& out) {
  auto length = static_cast<std::uint32_t>(payload.size());
  out.push_back(static_cast<std::uint8_t>(kind));
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<std::uint8_t>(length >> (8 * i)));
  }
  out.insert(out.end(), payload.begin(), payload.end());
}

void encodeAgentFrame(AgentFrame kind, std::string_view payload, std::vector<std::uint8_t>& out) {
  encodeAgentFrame(kind, {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()},
                   out);
}

Status AgentFrameDecoder::decode(std::span<const std::uint8_t> bytes,
                                 std::vector<AgentMessage>& messages) {
  if (broken_) {
    return Error("the agent stream broke earlier; nothing more can be read from it", EPROTO);
  }
  pending_.insert(pending_.end(), bytes.begin(), bytes.end());
  std::size_t at = 0;
  while (pending_.size() - at >= kAgentFrameHeaderBytes) {
    std::uint8_t kind = pending_[at];
    std::uint32_t length = 0;
    for (int i = 0; i < 4; ++i) {
      length |= static_cast<std::uint32_t>(pending_[at + 1 + i]) << (8 * i);
    }
    if (kind < static_cast<std::uint8_t>(AgentFrame::kExec) ||
        kind > static_cast<std::uint8_t>(AgentFrame::kStarted)) {
      broken_ = true;
      return Error("an agent frame of unknown kind " + std::to_string(kind), EPROTO);
    }
    if (length > kMaxAgentPayload) {
      broken_ = true;
      return Error("an agent frame of " + std::to_string(length) + " bytes (at most " +
                       std::to_string(kMaxAgentPayload) + ")",
                   EPROTO);
    }
    if (pending_.size() - at - kAgentFrameHeaderBytes < length) break;
    auto begin = pending_.begin() + static_cast<long>(at + kAgentFrameHeaderBytes);
    messages.push_back({static_cast<AgentFrame>(kind), {begin, begin + length}});
    at += kAgentFrameHeaderBytes + length;
  }
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<long>(at));
  return okStatus();
}

std::string execExitToJson(const ExecExit& exit) {
  nlohmann::json json = {{"guest_memory",
                          {{"total_bytes", exit.guestMemoryTotalBytes},
                           {"available_bytes", exit.guestMemoryAvailableBytes}}}};
  if (exit.signal) {
    json["signal"] = *exit.signal;
  } else {
    json["exit_code"] = exit.exitCode.value_or(0);
  }
  return json.dump();
}

Result<ExecExit> execExitFromJson(std::string_view text) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return Error("the guest agent's exit report is not a JSON object", EPROTO);
  }
  ExecExit exit;
  auto number = [&](const nlohmann::json& value, int low, int high) -> std::optional<int> {
    if (!value.is_number_integer()) return std::nullopt;
    auto n = value.get<std::int64_t>();
    if (n < low || n > high) return std::nullopt;
    return static_cast<int>(n);
  };
  if (json.contains("signal")) {
    exit.signal = number(json["signal"], 1, 64);
    if (!exit.signal) return Error("the guest agent reported an impossible signal", EPROTO);
  } else if (json.contains("exit_code")) {
    exit.exitCode = number(json["exit_code"], 0, 255);
    if (!exit.exitCode) return Error("the guest agent reported an impossible exit code", EPROTO);
  } else {
    return Error("the guest agent's exit report has neither exit_code nor signal", EPROTO);
  }
  if (auto memory = json.find("guest_memory"); memory != json.end() && memory->is_object()) {
    auto bytes = [&](const char* key) {
      auto field = memory->find(key);
      return field != memory->end() && field->is_number_unsigned() ? field->get<std::uint64_t>()
                                                                   : std::uint64_t{0};
    };
    exit.guestMemoryTotalBytes = bytes("total_bytes");
    exit.guestMemoryAvailableBytes = bytes("available_bytes");
  }
  return exit;
}

std::string containerUsageToJson(const ContainerUsage& usage) {
  return nlohmann::json{{"cpu_ns", usage.cpuNanos},
                        {"memory_bytes", usage.memoryBytes},
                        {"memory_limit_bytes", usage.memoryLimitBytes},
                        {"processes", usage.processes}}
      .dump();
}

Result<ContainerUsage> containerUsageFromJson(std::string_view text) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  ContainerUsage usage;
  std::pair<const char*, std::uint64_t*> fields[] = {
      {"cpu_ns", &usage.cpuNanos},
      {"memory_bytes", &usage.memoryBytes},
      {"memory_limit_bytes", &usage.memoryLimitBytes},
      {"processes", &usage.processes}};
  for (const auto& [key, into] : fields) {
    if (!json.is_object() || !json.contains(key) || !json[key].is_number_unsigned()) {
      return Error(std::string("the guest agent's usage report lacks a count of ") + key, EPROTO);
    }
    *into = json[key].get<std::uint64_t>();
  }
  return usage;
}

}  // namespace tandem::guest

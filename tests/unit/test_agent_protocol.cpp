#include "vmm/agent_protocol.h"

#include <string>
#include <vector>

#include "tests/unit/unit_test.h"

using namespace tandem::guest;

namespace {

std::string textOf(const AgentMessage& message) {
  return std::string(message.payload.begin(), message.payload.end());
}

void frames_split_anywhere_decode_whole(void**) {
  std::vector<std::uint8_t> stream;
  encodeAgentFrame(AgentFrame::kStdout, "out", stream);
  encodeAgentFrame(AgentFrame::kStderr, "err", stream);
  encodeAgentFrame(AgentFrame::kStdinEnd, "", stream);
  AgentFrameDecoder decoder;
  std::vector<AgentMessage> messages;
  // One byte at a time: every split, inside headers included.
  for (std::uint8_t byte : stream) {
    assert_true(decoder.decode({&byte, 1}, messages).ok());
  }
  assert_int_equal(messages.size(), 3);
  assert_int_equal(static_cast<int>(messages[0].kind), static_cast<int>(AgentFrame::kStdout));
  assert_string_equal(textOf(messages[0]).c_str(), "out");
  assert_int_equal(static_cast<int>(messages[1].kind), static_cast<int>(AgentFrame::kStderr));
  assert_string_equal(textOf(messages[1]).c_str(), "err");
  assert_true(messages[2].payload.empty());
}

void unknown_kinds_and_oversized_frames_break_the_stream(void**) {
  AgentFrameDecoder unknown;
  std::vector<AgentMessage> messages;
  // One past the last kind there is (kStarted), as well as far past it.
  std::vector<std::uint8_t> bad = {static_cast<std::uint8_t>(AgentFrame::kStarted) + 1, 0, 0, 0, 0};
  assert_false(unknown.decode(bad, messages).ok());
  std::vector<std::uint8_t> good;
  encodeAgentFrame(AgentFrame::kStdout, "x", good);
  // Nothing is read from a stream once it broke.
  assert_false(unknown.decode(good, messages).ok());
  assert_true(messages.empty());

  AgentFrameDecoder oversized;
  std::vector<std::uint8_t> huge = {static_cast<std::uint8_t>(AgentFrame::kStdout), 0, 0, 0x20, 0};
  auto decoded = oversized.decode(huge, messages);
  assert_false(decoded.ok());
  assert_non_null(std::strstr(decoded.error().message().c_str(), "2097152 bytes"));
}

void every_request_and_the_signal_frame_decode(void**) {
  std::vector<std::uint8_t> stream;
  encodeAgentFrame(AgentFrame::kRunContainer, "{}", stream);
  encodeAgentFrame(AgentFrame::kContainerExec, "{}", stream);
  encodeAgentFrame(AgentFrame::kSignal, "15", stream);
  AgentFrameDecoder decoder;
  std::vector<AgentMessage> messages;
  assert_true(decoder.decode(stream, messages).ok());
  assert_int_equal(messages.size(), 3);
  assert_int_equal(static_cast<int>(messages[0].kind), static_cast<int>(AgentFrame::kRunContainer));
  assert_int_equal(static_cast<int>(messages[1].kind),
                   static_cast<int>(AgentFrame::kContainerExec));
  assert_int_equal(static_cast<int>(messages[2].kind), static_cast<int>(AgentFrame::kSignal));
  assert_string_equal(textOf(messages[2]).c_str(), "15");
}

void exit_reports_round_trip(void**) {
  ExecExit exit;
  exit.exitCode = 3;
  exit.guestMemoryTotalBytes = 256ull << 20;
  exit.guestMemoryAvailableBytes = 200ull << 20;
  auto back = execExitFromJson(execExitToJson(exit));
  assert_true(back.ok());
  assert_int_equal(*back->exitCode, 3);
  assert_false(back->signal.has_value());
  assert_int_equal(back->guestMemoryTotalBytes, 256ull << 20);
  assert_int_equal(back->guestMemoryAvailableBytes, 200ull << 20);

  ExecExit killed;
  killed.signal = 9;
  back = execExitFromJson(execExitToJson(killed));
  assert_true(back.ok());
  assert_int_equal(*back->signal, 9);
}

void usage_reports_round_trip_and_incomplete_ones_are_errors(void**) {
  ContainerUsage usage{
      .cpuNanos = 5000, .memoryBytes = 1 << 20, .memoryLimitBytes = 64 << 20, .processes = 3};
  auto back = containerUsageFromJson(containerUsageToJson(usage));
  assert_true(back.ok());
  assert_int_equal(back->cpuNanos, 5000);
  assert_int_equal(back->memoryBytes, 1 << 20);
  assert_int_equal(back->memoryLimitBytes, 64 << 20);
  assert_int_equal(back->processes, 3);
  for (const char* text : {"", "[]", "{}", R"({"cpu_ns": 1, "memory_bytes": 1, "processes": 1})",
                           R"({"cpu_ns": -1, "memory_bytes": 1, "memory_limit_bytes": 0,
                               "processes": 1})"}) {
    assert_false(containerUsageFromJson(text).ok());
  }
}

void impossible_exit_reports_are_errors(void**) {
  for (const char* text : {"", "[]", "{}", R"({"exit_code": 256})", R"({"exit_code": -1})",
                           R"({"exit_code": "0"})", R"({"signal": 0})", R"({"signal": 65})"}) {
    assert_false(execExitFromJson(text).ok());
  }
  // Memory figures of the wrong type read as unknown, not as a failed session.
  auto odd = execExitFromJson(R"({"exit_code": 0, "guest_memory": {"total_bytes": "many"}})");
  assert_true(odd.ok());
  assert_int_equal(odd->guestMemoryTotalBytes, 0);
}

}  // namespace

int main() {
  const CMUnitTest tests[] = {
      cmocka_unit_test(frames_split_anywhere_decode_whole),
      cmocka_unit_test(unknown_kinds_and_oversized_frames_break_the_stream),
      cmocka_unit_test(every_request_and_the_signal_frame_decode),
      cmocka_unit_test(exit_reports_round_trip),
      cmocka_unit_test(impossible_exit_reports_are_errors),
      cmocka_unit_test(usage_reports_round_trip_and_incomplete_ones_are_errors),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

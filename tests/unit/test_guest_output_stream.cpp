#include "vmm/guest_output_stream.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "common/file.h"
#include "common/unix_socket.h"
#include "tests/unit/nonblocking_pipe.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using tandem::UniqueFd;
using tandem::guest::AgentFrame;
using tandem::vmm::GuestOutputStream;

namespace {

// What the pipe holds now, up to 4 KiB.
std::string drain(const tandem::Pipe& pipe) {
  char buffer[4096];
  ssize_t n = ::read(pipe.read.get(), buffer, sizeof buffer);
  return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
}

void serveUntilQuiet(GuestOutputStream& stream) {
  for (int i = 0; i < 8; ++i) {
    pollfd fd{stream.pollFd(), POLLIN, 0};
    if (fd.fd < 0 || ::poll(&fd, 1, 100) <= 0) return;
    stream.ready();
  }
}

// The VMM's output stream at a fresh path, and the guest's end connected to it.
struct Connected {
  tandem::Pipe out = nonBlockingPipe();
  tandem::Pipe err = nonBlockingPipe();
  std::string path;
  std::optional<GuestOutputStream> stream;
  std::optional<UniqueFd> guest;

  explicit Connected(void** state) : path(tempDir(state) + "/vsock.sock_1025") {
    auto listening = GuestOutputStream::listen(path, out.write.get(), err.write.get());
    assert_true(listening.ok());
    stream.emplace(std::move(listening).value());
    auto connected = tandem::connectUnixSocket(path);
    assert_true(connected.ok());
    guest.emplace(std::move(connected).value());
  }
};

void frames_reach_stdout_and_stderr_apart(void** state) {
  Connected c(state);
  auto& [out, err, path, stream, guest] = c;
  std::vector<std::uint8_t> frames;
  tandem::guest::encodeAgentFrame(AgentFrame::kStdout, "one ", frames);
  tandem::guest::encodeAgentFrame(AgentFrame::kStderr, "apart", frames);
  tandem::guest::encodeAgentFrame(AgentFrame::kStdout, "two", frames);
  assert_true(tandem::writeAll(guest->get(), frames, "test").ok());
  serveUntilQuiet(*stream);
  assert_string_equal(drain(out).c_str(), "one two");
  assert_string_equal(drain(err).c_str(), "apart");
  // One connection per VM: the socket's name is gone once the guest is in.
  assert_false(tandem::pathExists(path));

  // The init's exit report comes last: kept, not written anywhere.
  tandem::guest::ExecExit exit;
  exit.exitCode = 3;
  exit.guestMemoryTotalBytes = 1 << 28;
  exit.guestMemoryAvailableBytes = 1 << 27;
  frames.clear();
  tandem::guest::encodeAgentFrame(AgentFrame::kExit, tandem::guest::execExitToJson(exit), frames);
  assert_true(tandem::writeAll(guest->get(), frames, "test").ok());
  serveUntilQuiet(*stream);
  assert_true(stream->exitReport().has_value());
  assert_int_equal(*stream->exitReport()->exitCode, 3);
  assert_int_equal(stream->exitReport()->guestMemoryTotalBytes, 1 << 28);
  assert_string_equal(drain(out).c_str(), "");

  // The guest's end of stream ends ours, which tells the guest everything arrived.
  guest->reset();
  serveUntilQuiet(*stream);
  assert_int_equal(stream->pollFd(), -1);
}

void a_broken_stream_is_closed_without_writing_garbage(void** state) {
  Connected c(state);
  auto& [out, err, path, stream, guest] = c;
  std::uint8_t garbage[] = {0x99, 1, 0, 0, 0, 'x'};
  assert_int_equal(::write(guest->get(), garbage, sizeof garbage), sizeof garbage);
  serveUntilQuiet(*stream);
  assert_int_equal(stream->pollFd(), -1);
  assert_string_equal(drain(out).c_str(), "");
  char byte;
  assert_int_equal(::read(guest->get(), &byte, 1), 0);
}

void a_guest_that_never_connects_leaves_no_socket_behind(void** state) {
  std::string path = tempDir(state) + "/vsock.sock_1025";
  {
    auto stream = GuestOutputStream::listen(path, 1, 2);
    assert_true(stream.ok());
    assert_true(tandem::pathExists(path));
  }
  assert_false(tandem::pathExists(path));
}

}  // namespace

int main() {
  const CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(frames_reach_stdout_and_stderr_apart, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_broken_stream_is_closed_without_writing_garbage,
                                      makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(a_guest_that_never_connects_leaves_no_socket_behind,
                                      makeTempDir, removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

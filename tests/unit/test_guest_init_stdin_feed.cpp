#include "tools/guest-init/stdin_feed.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <string>

#include "tests/unit/nonblocking_pipe.h"
#include "tests/unit/unit_test.h"

using tandem::UniqueFd;
using tandem::guest_init::StdinFeed;

namespace {

std::span<const std::uint8_t> bytesOf(const std::string& text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

void input_is_written_then_the_pipe_closes_at_its_end(void**) {
  tandem::Pipe pipe = nonBlockingPipe();
  StdinFeed feed(pipe.write);
  assert_int_equal(feed.writeFd(), -1);  // nothing to write yet
  feed.add(bytesOf("hello"));
  feed.end();
  feed.add(bytesOf("ignored after the end"));
  assert_true(pipe.write.valid());  // still holding "hello"
  assert_int_equal(feed.writeFd(), pipe.write.get());
  feed.write();
  assert_false(pipe.write.valid());
  char buffer[32];
  assert_int_equal(::read(pipe.read.get(), buffer, sizeof buffer), 5);
  assert_int_equal(::read(pipe.read.get(), buffer, sizeof buffer), 0);
}

void a_reader_that_is_gone_drops_the_rest(void**) {
  ::signal(SIGPIPE, SIG_IGN);
  tandem::Pipe pipe = nonBlockingPipe();
  pipe.read.reset();
  StdinFeed feed(pipe.write);
  feed.add(bytesOf("for no one"));
  feed.write();
  assert_false(pipe.write.valid());
  assert_true(feed.pending().empty());
}

void room_runs_out_at_the_bound(void**) {
  tandem::Pipe pipe = nonBlockingPipe();
  StdinFeed feed(pipe.write);
  feed.pending().resize(StdinFeed::kMaxPending - 1);
  assert_true(feed.hasRoom());
  feed.add(bytesOf("x"));
  assert_false(feed.hasRoom());
  feed.discard();
  assert_false(pipe.write.valid());
  assert_true(feed.pending().empty());
}

}  // namespace

int main() {
  const CMUnitTest tests[] = {
      cmocka_unit_test(input_is_written_then_the_pipe_closes_at_its_end),
      cmocka_unit_test(a_reader_that_is_gone_drops_the_rest),
      cmocka_unit_test(room_runs_out_at_the_bound),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

// A pipe with both ends non-blocking, for tests of code that polls: a read or write that would
// wait returns EAGAIN instead of hanging the test.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include "common/process.h"
#include "tests/unit/unit_test.h"

inline tandem::Pipe nonBlockingPipe() {
  int fds[2];
  assert_int_equal(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  return {tandem::UniqueFd(fds[0]), tandem::UniqueFd(fds[1])};
}

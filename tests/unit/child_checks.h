// Checks of what changes a process for good (a jail, a lockdown, a new user), run in a child so
// that the test process stays as it was. The checks return 0 when all held, else the number of
// the first that did not, which the assertion shows as the child's exit code.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/unit_test.h"

template <typename Checks>
void assertChildPasses(Checks checks) {
  pid_t child = ::fork();
  assert_true(child >= 0);
  if (child == 0) {
    ::_exit(checks());
  }
  int status = 0;
  assert_int_equal(::waitpid(child, &status, 0), child);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

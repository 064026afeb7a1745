#include "common/child_process.h"

#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "common/unique_fd.h"
#include "tests/unit/unit_test.h"

using tandem::ChildGuard;
using tandem::companionProgramPath;
using tandem::SignalBlock;
using tandem::UniqueFd;
using tandem::waitForwardingSignals;

namespace {

sigset_t forwardedSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGCHLD);
  return set;
}

// A child that waits for a signal with the caller's original mask, or exits with `code` at once.
pid_t startChild(const sigset_t& mask, int code) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::pthread_sigmask(SIG_SETMASK, &mask, nullptr);
    if (code >= 0) {
      ::_exit(code);
    }
    for (;;) {
      ::pause();
    }
  }
  return pid;
}

void a_signal_to_the_parent_reaches_the_child(void**) {
  sigset_t set = forwardedSet();
  SignalBlock blocked(set);
  UniqueFd signals(::signalfd(-1, &set, SFD_CLOEXEC));
  assert_true(static_cast<bool>(signals));
  pid_t pid = startChild(blocked.original(), -1);
  assert_true(pid > 0);
  // Pending while blocked: the wait reads it from the signalfd and passes it on.
  ::kill(::getpid(), SIGTERM);
  auto status = waitForwardingSignals(pid, signals.get());
  assert_true(status.ok());
  assert_true(status->signaled);
  assert_int_equal(status->signal, SIGTERM);
}

void an_exit_code_comes_back(void**) {
  sigset_t set = forwardedSet();
  SignalBlock blocked(set);
  UniqueFd signals(::signalfd(-1, &set, SFD_CLOEXEC));
  pid_t pid = startChild(blocked.original(), 3);
  auto status = waitForwardingSignals(pid, signals.get());
  assert_true(status.ok());
  assert_false(status->signaled);
  assert_int_equal(status->code, 3);
}

void the_mask_is_restored(void**) {
  sigset_t before;
  ::pthread_sigmask(SIG_SETMASK, nullptr, &before);
  assert_false(sigismember(&before, SIGTERM));
  {
    SignalBlock blocked(forwardedSet());
    sigset_t during;
    ::pthread_sigmask(SIG_SETMASK, nullptr, &during);
    assert_true(sigismember(&during, SIGTERM));
  }
  sigset_t after;
  ::pthread_sigmask(SIG_SETMASK, nullptr, &after);
  assert_false(sigismember(&after, SIGTERM));
}

void a_guard_kills_and_reaps(void**) {
  sigset_t none;
  sigemptyset(&none);
  pid_t pid = startChild(none, -1);
  { ChildGuard guard(pid); }
  // Reaped: no zombie is left to wait for.
  assert_int_equal(::waitpid(pid, nullptr, WNOHANG), -1);
  assert_int_equal(errno, ECHILD);
}

std::string ownDirectory() {
  auto own = tandem::ownExecutablePath();
  assert_true(own.ok());
  return own->substr(0, own->rfind('/'));
}

void companions_are_found_by_variable_then_beside_then_in_the_build(void**) {
  ::setenv("TANDEM_TEST_COMPANION", "/opt/x/helper", 1);
  assert_string_equal(companionProgramPath("TANDEM_TEST_COMPANION", "helper", "sub").c_str(),
                      "/opt/x/helper");
  ::unsetenv("TANDEM_TEST_COMPANION");
  std::string directory = ownDirectory();
  auto own = tandem::ownExecutablePath();
  std::string name = own->substr(own->rfind('/') + 1);
  // This test itself stands for an installed companion next to the executable.
  assert_string_equal(companionProgramPath("TANDEM_TEST_COMPANION", name, "sub").c_str(),
                      (directory + "/" + name).c_str());
  assert_string_equal(
      companionProgramPath("TANDEM_TEST_COMPANION", "tandem-no-such-helper", "sub").c_str(),
      (directory + "/sub/tandem-no-such-helper").c_str());
  // A folder of the companion's name (as in a build tree) is not the program.
  std::string folder = directory + "/tandem-test-companion-folder";
  ::mkdir(folder.c_str(), 0755);
  assert_string_equal(
      companionProgramPath("TANDEM_TEST_COMPANION", "tandem-test-companion-folder", "sub").c_str(),
      (directory + "/sub/tandem-test-companion-folder").c_str());
  ::rmdir(folder.c_str());
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_signal_to_the_parent_reaches_the_child),
      cmocka_unit_test(an_exit_code_comes_back),
      cmocka_unit_test(the_mask_is_restored),
      cmocka_unit_test(a_guard_kills_and_reaps),
      cmocka_unit_test(companions_are_found_by_variable_then_beside_then_in_the_build),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

// Processes named by pid and start time: a live one found and signalled through its pidfd, an
// ended one (zombie or reaped) and a wrong start time refused, and signal names parsed.
#include "common/process_identity.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/signal_name.h"
#include "tests/unit/unit_test.h"

using namespace tandem;

namespace {

void a_live_process_is_opened_signalled_and_seen_to_end(void**) {
  pid_t child = ::fork();
  assert_true(child >= 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  auto start = processStartTime(child);
  assert_true(start.has_value());
  assert_true(sameProcess(child, *start));
  assert_false(sameProcess(child, *start + 1));
  assert_int_equal(openProcess(child, *start + 1).error().errnum(), ESRCH);
  auto process = openProcess(child, *start);
  assert_true(process.ok());
  auto early = waitProcessEnd(process->get(), std::chrono::milliseconds(10));
  assert_true(early.ok() && !*early);
  assert_true(signalProcess(process->get(), SIGTERM).ok());
  auto ended = waitProcessEnd(process->get(), std::nullopt);
  assert_true(ended.ok() && *ended);
  // A zombie has ended, though its pid and start time are still there.
  assert_false(sameProcess(child, *start));
  int status = 0;
  assert_int_equal(::waitpid(child, &status, 0), child);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
  assert_false(processStartTime(child).has_value());
  assert_int_equal(openProcess(child, *start).error().errnum(), ESRCH);
  assert_int_equal(openProcess(0, 0).error().errnum(), ESRCH);
}

void signals_are_named_as_kill_names_them(void**) {
  assert_int_equal(*parseSignal("KILL"), SIGKILL);
  assert_int_equal(*parseSignal("SIGTERM"), SIGTERM);
  assert_int_equal(*parseSignal("usr1"), SIGUSR1);
  assert_int_equal(*parseSignal("sigHup"), SIGHUP);
  assert_int_equal(*parseSignal("9"), SIGKILL);
  for (const char* bad : {"", "0", "65", "-1", "NOSUCH", "SIG", "9x"}) {
    auto parsed = parseSignal(bad);
    assert_false(parsed.ok());
    assert_true(parsed.error().message().find("is not a signal") != std::string::npos);
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_live_process_is_opened_signalled_and_seen_to_end),
      cmocka_unit_test(signals_are_named_as_kill_names_them),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

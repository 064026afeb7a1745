// Restart policies: parsing as docker's --restart, when a run ends in another, and the backoff.
#include "scheduler/restart_policy.h"

#include "tests/unit/unit_test.h"

using namespace tandem::scheduler;
using std::chrono::milliseconds;

namespace {

void policies_parse_as_docker_writes_them(void**) {
  assert_true(parseRestartPolicy("no")->kind == RestartPolicy::Kind::kNo);
  assert_true(parseRestartPolicy("always")->kind == RestartPolicy::Kind::kAlways);
  auto unlimited = parseRestartPolicy("on-failure");
  assert_true(unlimited->kind == RestartPolicy::Kind::kOnFailure && unlimited->maxRetries == 0);
  auto three = parseRestartPolicy("on-failure:3");
  assert_true(three->kind == RestartPolicy::Kind::kOnFailure && three->maxRetries == 3);
  assert_string_equal(toString(*three).c_str(), "on-failure:3");
  assert_string_equal(toString(*parseRestartPolicy("always")).c_str(), "always");
  for (const char* bad : {"", "sometimes", "on-failure:", "on-failure:0", "on-failure:x",
                          "on-failure:-1", "unless-stopped "}) {
    auto parsed = parseRestartPolicy(bad);
    assert_false(parsed.ok());
    assert_true(parsed.error().message().find("--restart takes") != std::string::npos);
  }
}

void runs_end_or_restart_by_the_policy(void**) {
  RestartPolicy no{}, always{RestartPolicy::Kind::kAlways, 0};
  RestartPolicy twice{RestartPolicy::Kind::kOnFailure, 2},
      onFailure{RestartPolicy::Kind::kOnFailure, 0};
  assert_false(shouldRestart(no, 1, 0, false));
  assert_true(shouldRestart(always, 0, 0, false));
  assert_true(shouldRestart(always, 1, 100, false));
  assert_false(shouldRestart(always, 1, 0, true));  // stopped by a user
  assert_false(shouldRestart(onFailure, 0, 0, false));
  assert_true(shouldRestart(onFailure, 137, 50, false));
  assert_true(shouldRestart(twice, 3, 0, false));
  assert_true(shouldRestart(twice, 3, 1, false));
  assert_false(shouldRestart(twice, 3, 2, false));
  assert_false(shouldRestart(twice, 3, 0, true));
}

void the_wait_doubles_up_to_a_minute_and_resets_after_a_long_run(void**) {
  assert_int_equal(restartDelay(1, milliseconds(5)).count(), 100);
  assert_int_equal(restartDelay(2, milliseconds(5)).count(), 200);
  assert_int_equal(restartDelay(3, milliseconds(5)).count(), 400);
  assert_int_equal(restartDelay(10, milliseconds(5)).count(), 51200);
  assert_int_equal(restartDelay(11, milliseconds(5)).count(), 60000);
  assert_int_equal(restartDelay(1000, milliseconds(5)).count(), 60000);
  assert_int_equal(restartDelay(12, milliseconds(10000)).count(), 100);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(policies_parse_as_docker_writes_them),
      cmocka_unit_test(runs_end_or_restart_by_the_policy),
      cmocka_unit_test(the_wait_doubles_up_to_a_minute_and_resets_after_a_long_run),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

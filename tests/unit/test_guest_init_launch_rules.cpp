// The guest init's decisions that must match tandem's containers: the workload's environment,
// exec failure codes, and the status word for each way a workload ends.
#include <cerrno>
#include <string>
#include <vector>

#include "tools/guest-init/launch_rules.h"
#include "vmm/guest_protocol.h"

// After every header that may bring in <ios>: CMocka's fail() macro would break basic_ios.
#include "tests/unit/unit_test.h"

using tandem::ExitStatus;
using tandem::Workload;
using tandem::guest::encodeStatus;
using tandem::guest::StatusKind;
using tandem::guest_init::execFailureCode;
using tandem::guest_init::exitStatusWord;
using tandem::guest_init::workloadEnvironment;

namespace {

void environment_is_the_workloads_own(void**) {
  Workload workload;
  workload.env = {"A=1", "PATH=/opt/bin", "EMPTY="};
  auto env = workloadEnvironment(workload);
  assert_true(env == workload.env);
}

void environment_gets_a_default_path(void**) {
  Workload workload;
  workload.env = {"XPATH=/x", "A=1"};
  auto env = workloadEnvironment(workload);
  assert_int_equal(env.size(), 3);
  assert_string_equal(env[2].c_str(),
                      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  assert_int_equal(workloadEnvironment(Workload{}).size(), 1);
}

void exec_failures_follow_container_runtimes(void**) {
  assert_int_equal(execFailureCode(ENOENT), 127);
  assert_int_equal(execFailureCode(ENOTDIR), 127);
  assert_int_equal(execFailureCode(EACCES), 126);
  assert_int_equal(execFailureCode(ENOEXEC), 126);
  assert_int_equal(execFailureCode(EISDIR), 126);
}

void exit_status_words(void**) {
  assert_int_equal(exitStatusWord(ExitStatus{.code = 0}), encodeStatus(StatusKind::kExited, 0));
  assert_int_equal(exitStatusWord(ExitStatus{.code = 255}), 0x020000ffu);
  assert_int_equal(exitStatusWord(ExitStatus{.signaled = true, .signal = 9}), 0x03000009u);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(environment_is_the_workloads_own),
      cmocka_unit_test(environment_gets_a_default_path),
      cmocka_unit_test(exec_failures_follow_container_runtimes),
      cmocka_unit_test(exit_status_words),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

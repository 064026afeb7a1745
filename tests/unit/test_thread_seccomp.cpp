#include "vmm/thread_seccomp.h"

#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>

#include "common/process.h"
#include "tests/unit/unit_test.h"

using tandem::vmm::installSeccompReporter;
using tandem::vmm::installThreadSeccomp;
using tandem::vmm::parseSeccompMode;
using tandem::vmm::SeccompMode;
using tandem::vmm::threadSyscalls;
using tandem::vmm::VmmThread;

namespace {

bool allows(const std::vector<std::string>& names, const char* name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

void test_lists_are_known_and_unique(void**) {
  for (VmmThread thread : {VmmThread::kMain, VmmThread::kVcpu}) {
    for (bool statistics : {false, true}) {
      auto allowed = threadSyscalls(thread, statistics);
      std::set<std::string> unique(allowed.names.begin(), allowed.names.end());
      assert_int_equal(unique.size(), allowed.names.size());
      for (const std::string& name : allowed.names) {
        assert_int_not_equal(seccomp_syscall_resolve_name(name.c_str()), __NR_SCMP_ERROR);
      }
    }
  }
}

// What a guest that took over a thread would reach for is on neither list.
void test_lists_hold_no_escape(void**) {
  for (VmmThread thread : {VmmThread::kMain, VmmThread::kVcpu}) {
    auto names = threadSyscalls(thread, true).names;
    for (const char* escape :
         {"open",        "openat",       "openat2",    "execve",  "execveat",
          "fork",        "vfork",        "clone",      "clone3",  "mount",
          "ptrace",      "chroot",       "setns",      "unshare", "bpf",
          "init_module", "finit_module", "kexec_load", "setuid",  "process_vm_writev"}) {
      if (allows(names, escape))
        fail_msg("the %s thread's list allows %s", tandem::vmm::vmmThreadName(thread), escape);
    }
  }
}

// A vCPU thread reaches KVM through KVM_RUN alone (and a TAP for its offloads); the main
// thread, only for statistics.
void test_ioctls_are_narrow(void**) {
  auto vcpu = threadSyscalls(VmmThread::kVcpu, true);
  assert_int_equal(vcpu.ioctls.size(), 2);
  assert_int_equal(vcpu.ioctls[0], KVM_RUN);
  assert_int_equal(vcpu.ioctls[1], TUNSETOFFLOAD);
  assert_true(allows(vcpu.names, "ioctl"));
  auto main = threadSyscalls(VmmThread::kMain, false);
  assert_true(main.ioctls.empty());
  assert_false(allows(main.names, "ioctl"));
  auto mainWithStats = threadSyscalls(VmmThread::kMain, true);
  assert_int_equal(mainWithStats.ioctls.size(), 1);
  assert_int_equal(mainWithStats.ioctls[0], KVM_GET_STATS_FD);
  assert_false(allows(vcpu.names, "socket"));
  assert_true(allows(main.names, "socket"));
}

void test_modes_parse(void**) {
  assert_true(*parseSeccompMode("enforce") == SeccompMode::kEnforce);
  assert_true(*parseSeccompMode("log") == SeccompMode::kLog);
  assert_true(*parseSeccompMode("off") == SeccompMode::kOff);
  auto bad = parseSeccompMode("strict");
  assert_false(static_cast<bool>(bad));
  assert_non_null(std::strstr(bad.error().message().c_str(), "enforce, log or off"));
}

struct ChildEnd {
  int status;
  std::string stderrText;
};

// Forks a child that installs the vCPU list in `mode`, then asks for its parent's pid (outside
// the list) and reports the answer on stdout's place, stderr.
ChildEnd runFilteredChild(SeccompMode mode) {
  int pipeFds[2];
  assert_int_equal(::pipe(pipeFds), 0);
  pid_t pid = ::fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    ::dup2(pipeFds[1], STDERR_FILENO);
    if (!installSeccompReporter() || !installThreadSeccomp(VmmThread::kVcpu, mode, false)) {
      ::_exit(3);
    }
    long parent = ::syscall(SYS_getppid);
    const char* said = parent > 0 ? "getppid answered\n" : "getppid failed\n";
    [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, said, std::strlen(said));
    ::syscall(SYS_exit_group, 0);
  }
  ::close(pipeFds[1]);
  std::string text;
  char buffer[512];
  for (ssize_t n; (n = ::read(pipeFds[0], buffer, sizeof buffer)) > 0;) text.append(buffer, n);
  ::close(pipeFds[0]);
  int status = 0;
  assert_int_equal(::waitpid(pid, &status, 0), pid);
  return {status, text};
}

void test_enforce_ends_the_process_and_names_the_call(void**) {
  ChildEnd end = runFilteredChild(SeccompMode::kEnforce);
  assert_true(WIFEXITED(end.status));
  assert_int_equal(WEXITSTATUS(end.status), tandem::kExitRuntimeError);
  std::string expected = "vCPU thread refused system call " + std::to_string(SYS_getppid);
  if (end.stderrText.find(expected) == std::string::npos) {
    fail_msg("the report lacks \"%s\": %s", expected.c_str(), end.stderrText.c_str());
  }
  assert_null(std::strstr(end.stderrText.c_str(), "getppid answered"));
}

void test_log_lets_the_call_through(void**) {
  ChildEnd end = runFilteredChild(SeccompMode::kLog);
  assert_true(WIFEXITED(end.status));
  assert_int_equal(WEXITSTATUS(end.status), 0);
  assert_string_equal(end.stderrText.c_str(), "getppid answered\n");
}

}  // namespace

int main() {
  const CMUnitTest tests[] = {
      cmocka_unit_test(test_lists_are_known_and_unique),
      cmocka_unit_test(test_lists_hold_no_escape),
      cmocka_unit_test(test_ioctls_are_narrow),
      cmocka_unit_test(test_modes_parse),
      cmocka_unit_test(test_enforce_ends_the_process_and_names_the_call),
      cmocka_unit_test(test_log_lets_the_call_through),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "common/capabilities.h"
#include "container/seccomp.h"
#include "tests/unit/unit_test.h"

using tandem::container::compileDefaultSeccompProgram;
using tandem::container::defaultAllowedSyscalls;
using tandem::container::installSeccompProgram;
using tandem::resolveCapabilities;

namespace {

// i386 and x32 syscall numbers, which a 64-bit process can reach through int 0x80 and the
// x32 bit of the syscall number.
constexpr long kI386Getpid = 20;
constexpr long kI386Swapon = 87;
constexpr long kX32SyscallBit = 0x40000000;

std::vector<cap_value_t> capsWith(std::vector<std::string> add) {
  auto caps = resolveCapabilities(add, {});
  assert_true(caps.ok());
  return *caps;
}

std::vector<sock_filter> compile(const std::vector<cap_value_t>& caps) {
  auto program = compileDefaultSeccompProgram(caps);
  if (!program) {
    fail_msg("compileDefaultSeccompProgram: %s", program.error().describe().c_str());
  }
  return *program;
}

long int80(long nr, long arg1, long arg2) {
  long ret = 0;
  asm volatile("int $0x80"
               : "=a"(ret)
               : "a"(nr), "b"(arg1), "c"(arg2)
               : "memory", "r8", "r9", "r10", "r11");
  return ret;
}

// The child names the first check that failed on stderr and exits with 1.
bool expectErrno(long rc, int want, const char* what) {
  int got = errno;
  if (rc == -1 && got == want) {
    return true;
  }
  std::fprintf(stderr, "%s: returned %ld, errno %s; wanted errno %s\n", what, rc,
               rc == -1 ? strerrorname_np(got) : "-", strerrorname_np(want));
  return false;
}

bool expectSuccess(long rc, const char* what) {
  if (rc != -1) {
    return true;
  }
  std::fprintf(stderr, "%s failed: %s\n", what, strerrorname_np(errno));
  return false;
}

#define CHECK(condition)                                           \
  do {                                                             \
    if (!(condition)) {                                            \
      std::fprintf(stderr, "check at line %d failed\n", __LINE__); \
      return 1;                                                    \
    }                                                              \
  } while (0)

int checksWithDefaultCaps() {
  CHECK(expectSuccess(getpid(), "getpid"));
  CHECK(expectErrno(syscall(SYS_swapon, "/nonexistent-tandem", 0), EPERM, "swapon"));
  CHECK(expectErrno(syscall(SYS_kexec_load, 0, 0, nullptr, 0), EPERM, "kexec_load"));
  CHECK(expectErrno(syscall(SYS_init_module, nullptr, 0, ""), EPERM, "init_module"));
  CHECK(expectErrno(unshare(CLONE_NEWUSER), EPERM, "unshare(CLONE_NEWUSER)"));
  CHECK(expectErrno(unshare(0), EPERM, "unshare(0)"));
  CHECK(expectErrno(setns(-1, 0), EPERM, "setns"));
  CHECK(expectErrno(syscall(SYS_clone3, nullptr, 0), ENOSYS, "clone3"));
  // Invalid flags: the kernel alone would answer EINVAL, so EPERM can only be the filter's.
  CHECK(expectErrno(syscall(SYS_umount2, "/", 0x80000000), EPERM, "umount2"));
  CHECK(expectErrno(mount("none", "/nonexistent-tandem", "tmpfs", 0, nullptr), EPERM, "mount"));
  CHECK(expectErrno(socket(AF_VSOCK, SOCK_STREAM, 0), EPERM, "socket(AF_VSOCK)"));
  CHECK(expectSuccess(socket(AF_UNIX, SOCK_STREAM, 0), "socket(AF_UNIX)"));
  CHECK(expectSuccess(personality(0xffffffff), "personality(query)"));
  CHECK(expectErrno(personality(ADDR_NO_RANDOMIZE), EPERM, "personality(ADDR_NO_RANDOMIZE)"));
  long cloned = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
  if (cloned == 0) {
    _exit(0);  // A child only the failing filter could have made.
  }
  CHECK(expectErrno(cloned, EPERM, "clone(CLONE_NEWNS)"));
  pid_t plain = fork();
  CHECK(expectSuccess(plain, "fork"));
  if (plain == 0) {
    _exit(0);
  }
  int status = 0;
  CHECK(expectSuccess(waitpid(plain, &status, 0), "waitpid"));
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // Bad arch would kill the process; the allowlist answers instead.
  // Where the kernel runs x32 the allowlist refuses swapon; elsewhere the filter answers as the
  // kernel would. Either way the process survives.
  CHECK(expectErrno(syscall(kX32SyscallBit | SYS_swapon, "/", 0),
                    tandem::container::detectSyscallAbis().x32 ? EPERM : ENOSYS, "x32 swapon"));
  return 0;
}

int i386ChecksWithDefaultCaps() {
  CHECK(int80(kI386Getpid, 0, 0) == getpid());
  CHECK(int80(kI386Swapon, 0, 0) == -EPERM);
  return 0;
}

int checksWithSysAdmin() {
  CHECK(expectErrno(syscall(SYS_umount2, "/", 0x80000000), EINVAL, "umount2"));
  CHECK(expectErrno(setns(-1, 0), EBADF, "setns"));
  CHECK(expectSuccess(unshare(0), "unshare(0)"));
  // The kernel rejects a NULL clone_args before doing anything.
  CHECK(expectErrno(syscall(SYS_clone3, nullptr, 0), EINVAL, "clone3"));
  CHECK(expectErrno(syscall(SYS_kexec_load, 0, 0, nullptr, 0), EPERM, "kexec_load"));
  return 0;
}

#undef CHECK

// cmocka turns SIGSEGV and friends into a test failure by jumping back into its runner, which a
// forked child must not do: it would go on to run the remaining tests itself.
pid_t forkWithDefaultSignals() {
  std::fflush(nullptr);
  pid_t child = fork();
  if (child == 0) {
    for (int signal : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS}) {
      std::signal(signal, SIG_DFL);
    }
  }
  return child;
}

// Runs `checks` in a child under the program; returns its exit status.
int runFiltered(const std::vector<sock_filter>& program, int (*checks)()) {
  pid_t child = forkWithDefaultSignals();
  assert_true(child >= 0);
  if (child == 0) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
      _exit(200);
    }
    auto installed = installSeccompProgram(program);
    if (!installed) {
      std::fprintf(stderr, "%s\n", installed.error().describe().c_str());
      _exit(201);
    }
    _exit(checks());
  }
  int status = 0;
  assert_int_equal(waitpid(child, &status, 0), child);
  if (WIFSIGNALED(status)) {
    fail_msg("the filtered child died of signal %d", WTERMSIG(status));
  }
  return WEXITSTATUS(status);
}

bool hasI386Emulation() {
  pid_t child = forkWithDefaultSignals();
  if (child == 0) {
    _exit(int80(kI386Getpid, 0, 0) == getpid() ? 0 : 1);
  }
  int status = 0;
  return child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
}

bool listed(const std::string& name) {
  const auto& names = defaultAllowedSyscalls();
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

static void allowlist_holds_the_basics_only(void**) {
  for (const char* name : {"read", "write", "execve", "futex", "rseq", "statx", "openat2"}) {
    assert_true(listed(name));
  }
  for (const char* name : {"kexec_load", "init_module", "mount", "unshare", "clone", "clone3",
                           "ptrace", "swapon", "open_by_handle_at", "bpf", "personality"}) {
    assert_false(listed(name));
  }
}

static void compiles_a_program(void**) {
  auto program = compile(capsWith({}));
  assert_true(program.size() > 100);
  assert_true(program.size() <= BPF_MAXINSNS);
}

static void rejects_an_empty_program(void**) {
  auto installed = installSeccompProgram({});
  assert_false(installed.ok());
}

static void default_caps_deny_what_docker_denies(void**) {
  assert_int_equal(runFiltered(compile(capsWith({})), checksWithDefaultCaps), 0);
}

static void i386_calls_meet_the_same_allowlist(void**) {
  if (!hasI386Emulation()) {
    std::printf("skipped: this kernel runs no i386 syscalls (no IA32 emulation)\n");
    skip();
  }
  assert_int_equal(runFiltered(compile(capsWith({})), i386ChecksWithDefaultCaps), 0);
}

static void sys_admin_opens_the_mount_family(void**) {
  assert_int_equal(runFiltered(compile(capsWith({"SYS_ADMIN"})), checksWithSysAdmin), 0);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(allowlist_holds_the_basics_only),
      cmocka_unit_test(compiles_a_program),
      cmocka_unit_test(rejects_an_empty_program),
      cmocka_unit_test(default_caps_deny_what_docker_denies),
      cmocka_unit_test(i386_calls_meet_the_same_allowlist),
      cmocka_unit_test(sys_admin_opens_the_mount_family),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

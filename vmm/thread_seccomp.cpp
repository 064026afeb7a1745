#include "vmm/thread_seccomp.h"

#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/process.h"
#include "common/seccomp_context.h"

namespace tandem::vmm {
namespace {

// What every thread of the VMM makes once it runs: memory for the heap and for glibc's arenas,
// locks, the clock (when the vDSO falls back), the log and its thread id, the kick signal's
// return, and the thread's own end. exit_group is the refused-call reporter's way out, on
// whichever thread the refusal happened; sigaltstack is how a sanitizer build enters any signal
// handler, the reporter included.
const char* const kCommonSyscalls[] = {
    "brk",
    "clock_gettime",
    "exit",
    "exit_group",
    "futex",
    "gettid",
    "madvise",
    "mmap",
    "mprotect",
    "munmap",
    "restart_syscall",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sched_yield",
    "sigaltstack",
    "write",
};

// The main thread serves the devices: the block devices' files, the TAP devices, the vsock's
// Unix sockets (accepting the host's connections, connecting for the guest's, watched through
// an epoll set), the entropy source, stdin and the signalfd, and it kicks the vCPUs and waits for
// them at the end. unlink removes the sockets it made as it stops.
const char* const kMainSyscalls[] = {
    "accept4",  "close",     "connect",         "epoll_ctl",  "epoll_wait", "fdatasync",
    "getpid",   "getrandom", "lseek",           "newfstatat", "poll",       "pread64",
    "pwrite64", "read",      "readv",           "recvfrom",   "sendto",     "shutdown",
    "socket",   "tgkill",    "timerfd_settime", "unlink",     "writev",
};

// Set before a thread installs its list, for the reporter to name the thread.
thread_local const char* currentThread = "unfiltered";

void appendText(char* buffer, std::size_t& used, std::size_t size, const char* text) {
  while (*text != '\0' && used + 1 < size) buffer[used++] = *text++;
}

void appendNumber(char* buffer, std::size_t& used, std::size_t size, long value) {
  char digits[24];
  std::size_t count = 0;
  unsigned long rest = value < 0 ? 0UL - static_cast<unsigned long>(value) : value;
  do {
    digits[count++] = static_cast<char>('0' + rest % 10);
    rest /= 10;
  } while (rest != 0 && count < sizeof digits);
  if (value < 0) appendText(buffer, used, size, "-");
  while (count > 0 && used + 1 < size) buffer[used++] = digits[--count];
}

// Runs on the thread that made the call, in a signal handler: only async-signal-safe calls, and
// only calls the lists allow (write, exit_group).
void reportRefusedCall(int, siginfo_t* info, void*) {
  char message[256];
  std::size_t used = 0;
  appendText(message, used, sizeof message, "tandem-vmm: the seccomp filter of its ");
  appendText(message, used, sizeof message, currentThread);
  appendText(message, used, sizeof message, " thread refused system call ");
  appendNumber(message, used, sizeof message, info->si_syscall);
  appendText(message, used, sizeof message,
             "; a guest may have taken over the thread, or tandem-vmm needs a call its list lacks "
             "(run it with --seccomp log to learn which)\n");
  [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, message, used);
  ::_exit(kExitRuntimeError);
}

}  // namespace

Result<SeccompMode> parseSeccompMode(std::string_view text) {
  if (text == "enforce") return SeccompMode::kEnforce;
  if (text == "log") return SeccompMode::kLog;
  if (text == "off") return SeccompMode::kOff;
  return Error("--seccomp takes enforce, log or off, not \"" + std::string(text) + "\"", EINVAL);
}

const char* seccompModeName(SeccompMode mode) {
  switch (mode) {
    case SeccompMode::kEnforce:
      return "enforce";
    case SeccompMode::kLog:
      return "log";
    case SeccompMode::kOff:
      return "off";
  }
  return "unknown";
}

const char* vmmThreadName(VmmThread thread) {
  return thread == VmmThread::kVcpu ? "vCPU" : "main";
}

ThreadSyscalls threadSyscalls(VmmThread thread, bool statistics) {
  ThreadSyscalls allowed;
  allowed.names.assign(std::begin(kCommonSyscalls), std::end(kCommonSyscalls));
  if (thread == VmmThread::kVcpu) {
    // A guest's virtio-net driver sets the TAP's offloads through a register write.
    allowed.ioctls = {KVM_RUN, TUNSETOFFLOAD};
  } else {
    allowed.names.insert(allowed.names.end(), std::begin(kMainSyscalls), std::end(kMainSyscalls));
    if (statistics) allowed.ioctls = {KVM_GET_STATS_FD};
  }
  if (!allowed.ioctls.empty()) allowed.names.push_back("ioctl");
  return allowed;
}

Status installSeccompReporter() {
  struct sigaction action {};
  action.sa_sigaction = reportRefusedCall;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  if (::sigaction(SIGSYS, &action, nullptr) != 0) {
    return Error::fromErrno("cannot install the VMM's SIGSYS handler for its seccomp filters");
  }
  return okStatus();
}

Status installThreadSeccomp(VmmThread thread, SeccompMode mode, bool statistics) {
  if (mode == SeccompMode::kOff) {
    return okStatus();
  }
  const std::string what =
      std::string("the VMM's seccomp filter for its ") + vmmThreadName(thread) + " thread";
  SeccompContext filter(seccomp_init(mode == SeccompMode::kLog ? SCMP_ACT_LOG : SCMP_ACT_TRAP));
  if (!filter) {
    return Error("cannot start " + what + " (libseccomp could not allocate it)", ENOMEM);
  }
  ThreadSyscalls allowed = threadSyscalls(thread, statistics);
  for (const std::string& name : allowed.names) {
    if (name == "ioctl") continue;
    int number = seccomp_syscall_resolve_name(name.c_str());
    if (number == __NR_SCMP_ERROR) {
      return Error(what + ": libseccomp does not know the system call " + name, EINVAL);
    }
    if (int error = seccomp_rule_add(filter.get(), SCMP_ACT_ALLOW, number, 0); error != 0) {
      return Error::fromErrno(what + ": cannot allow " + name, -error);
    }
  }
  for (std::uint64_t request : allowed.ioctls) {
    if (int error = seccomp_rule_add(filter.get(), SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                                     SCMP_A1(SCMP_CMP_EQ, request));
        error != 0) {
      return Error::fromErrno(what + ": cannot allow ioctl " + std::to_string(request), -error);
    }
  }
  currentThread = vmmThreadName(thread);
  if (int error = seccomp_load(filter.get()); error != 0) {
    return Error::fromErrno("cannot install " + what, -error);
  }
  return okStatus();
}

}  // namespace tandem::vmm

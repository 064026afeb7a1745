#include "container/seccomp.h"

#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <utility>

#include "common/seccomp_context.h"
#include "common/unique_fd.h"

namespace tandem::container {
namespace {

// The namespace flags docker refuses in clone's first argument to a workload without
// CAP_SYS_ADMIN. CLONE_NEWTIME is absent on purpose: clone() reads that bit as part of the
// exit signal; only clone3 and unshare can ask for it, and both stay denied.
constexpr scmp_datum_t kCloneNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                                              CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
                                              CLONE_NEWCGROUP;

// The personalities docker allows: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and
// 0xffffffff, which only queries the current one.
constexpr scmp_datum_t kAllowedPersonalities[] = {0x0, 0x0008, 0x20000, 0x20008, 0xffffffff};

struct MallocFree {
  void operator()(char* text) const { std::free(text); }
};

// libseccomp reports failure as a negative errno.
Status checkSeccomp(int rc, const char* what) {
  if (rc < 0) {
    return Error::fromErrno(what, -rc);
  }
  return okStatus();
}

bool holds(const std::vector<cap_value_t>& caps, cap_value_t cap) {
  return std::find(caps.begin(), caps.end(), cap) != caps.end();
}

bool kernelAtLeast(int wantMajor, int wantMinor) {
  utsname name{};
  int major = 0;
  int minor = 0;
  if (uname(&name) != 0 || std::sscanf(name.release, "%d.%d", &major, &minor) != 2) {
    return false;
  }
  return std::pair(major, minor) >= std::pair(wantMajor, wantMinor);
}

// Syscalls this libseccomp cannot name are left out (and so denied) rather than failing the
// whole profile: a newer kernel's syscalls simply wait for a newer libseccomp.
void resolveInto(const std::vector<std::string>& names, std::set<int>& syscalls) {
  for (const std::string& name : names) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr != __NR_SCMP_ERROR) {
      syscalls.insert(nr);
    }
  }
}

std::set<int> allowedSyscalls(const std::vector<cap_value_t>& caps) {
  std::set<int> syscalls;
  resolveInto(defaultAllowedSyscalls(), syscalls);
  if (kernelAtLeast(4, 8)) {
    resolveInto(tracingSyscalls(), syscalls);
  }
  for (const CapabilityGatedSyscalls& gated : capabilityGatedSyscalls()) {
    if (holds(caps, gated.capability)) {
      resolveInto(gated.names, syscalls);
    }
  }
  return syscalls;
}

Status addRule(const SeccompContext& filter, uint32_t action, int syscall,
               const std::vector<scmp_arg_cmp>& args = {}) {
  int rc = seccomp_rule_add_array(filter.get(), action, syscall, static_cast<unsigned>(args.size()),
                                  args.data());
  if (rc < 0) {
    std::unique_ptr<char, MallocFree> name(
        seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, syscall));
    std::string described = name ? name.get() : "syscall " + std::to_string(syscall);
    return Error::fromErrno("cannot add the seccomp rule for " + described, -rc);
  }
  return okStatus();
}

Status addArgumentRules(const SeccompContext& filter, const std::vector<cap_value_t>& caps) {
  for (scmp_datum_t persona : kAllowedPersonalities) {
    TANDEM_TRY(
        addRule(filter, SCMP_ACT_ALLOW, SCMP_SYS(personality), {SCMP_A0(SCMP_CMP_EQ, persona)}));
  }
  // docker keeps workloads off AF_VSOCK, which reaches the host's (and tandem's VMs') vsock.
  TANDEM_TRY(addRule(filter, SCMP_ACT_ALLOW, SCMP_SYS(socket), {SCMP_A0(SCMP_CMP_NE, AF_VSOCK)}));
  if (!holds(caps, CAP_SYS_ADMIN)) {
    TANDEM_TRY(addRule(filter, SCMP_ACT_ALLOW, SCMP_SYS(clone),
                       {SCMP_A0(SCMP_CMP_MASKED_EQ, kCloneNamespaceFlags, 0)}));
    // clone3 passes its flags in memory, out of BPF's reach. ENOSYS, unlike EPERM, makes
    // glibc fall back to clone, whose flags the rule above can check.
    TANDEM_TRY(addRule(filter, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3)));
  }
  return okStatus();
}

Result<SeccompContext> buildFilter(const std::vector<cap_value_t>& caps) {
  SeccompContext filter(seccomp_init(SCMP_ACT_ERRNO(EPERM)));
  if (!filter) {
    return Error("libseccomp cannot create a filter (out of memory or unsupported arch)");
  }
  TANDEM_TRY(
      checkSeccomp(seccomp_attr_set(filter.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(ENOSYS)),
                   "cannot set the seccomp filter's answer for other ABIs"));
  // A 64-bit process can still enter the kernel through the i386 (int 0x80) and x32 tables;
  // where the kernel runs them, they must meet the same allowlist.
  SyscallAbis abis = detectSyscallAbis();
  if (abis.i386) {
    TANDEM_TRY(checkSeccomp(seccomp_arch_add(filter.get(), SCMP_ARCH_X86),
                            "cannot add the i386 ABI to the seccomp filter"));
  }
  if (abis.x32) {
    TANDEM_TRY(checkSeccomp(seccomp_arch_add(filter.get(), SCMP_ARCH_X32),
                            "cannot add the x32 ABI to the seccomp filter"));
  }
  // The runtime sets no_new_privs itself, at the point it chooses; the filter is only exported.
  TANDEM_TRY(checkSeccomp(seccomp_attr_set(filter.get(), SCMP_FLTATR_CTL_NNP, 0),
                          "cannot turn off libseccomp's no_new_privs handling"));
  for (int syscall : allowedSyscalls(caps)) {
    TANDEM_TRY(addRule(filter, SCMP_ACT_ALLOW, syscall));
  }
  TANDEM_TRY(addArgumentRules(filter, caps));
  return filter;
}

}  // namespace

SyscallAbis detectSyscallAbis() {
  SyscallAbis abis;
  // Without x32 support the kernel answers ENOSYS; with it, getpid works.
  constexpr long kX32SyscallBit = 0x40000000;
  abis.x32 = syscall(kX32SyscallBit | SYS_getpid) == getpid();
  // Without IA32 emulation int 0x80 faults, so the probe runs in a throwaway child.
  pid_t child = fork();
  if (child == 0) {
    signal(SIGSEGV, SIG_DFL);
    constexpr long kI386Getpid = 20;
    long result = 0;
    asm volatile("int $0x80"
                 : "=a"(result)
                 : "a"(kI386Getpid)
                 : "memory", "r8", "r9", "r10", "r11");
    _exit(result == getpid() ? 0 : 1);
  }
  int status = 0;
  abis.i386 = child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) &&
              WEXITSTATUS(status) == 0;
  return abis;
}

// libseccomp 2.5 can only write a program to an fd. A memfd takes any size with no reader on
// the other end, where a pipe would block once the program outgrew its buffer.
Result<std::vector<sock_filter>> exportSeccompProgram(void* filter) {
  UniqueFd memfd(memfd_create("tandem-seccomp", MFD_CLOEXEC));
  if (!memfd) {
    return Error::fromErrno("cannot create a memfd for the seccomp program");
  }
  TANDEM_TRY(checkSeccomp(seccomp_export_bpf(filter, memfd.get()),
                          "cannot generate the seccomp BPF program"));
  struct stat st {};
  if (fstat(memfd.get(), &st) != 0) {
    return Error::fromErrno("cannot stat the seccomp program's memfd");
  }
  auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0 || size % sizeof(sock_filter) != 0) {
    return Error("libseccomp wrote a seccomp program of " + std::to_string(size) +
                 " bytes, which is not a whole number of BPF instructions");
  }
  std::vector<sock_filter> program(size / sizeof(sock_filter));
  auto* bytes = reinterpret_cast<char*>(program.data());
  for (std::size_t done = 0; done < size;) {
    ssize_t n = pread(memfd.get(), bytes + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return Error::fromErrno("cannot read the seccomp program back from its memfd",
                              n < 0 ? errno : EIO);
    }
    done += static_cast<std::size_t>(n);
  }
  return program;
}

Result<std::vector<sock_filter>> compileDefaultSeccompProgram(
    const std::vector<cap_value_t>& caps) {
  TANDEM_ASSIGN_OR_RETURN(SeccompContext filter, buildFilter(caps));
  return exportSeccompProgram(filter.get());
}

Status installSeccompProgram(const std::vector<sock_filter>& program) {
  if (program.empty() || program.size() > BPF_MAXINSNS) {
    return Error("the seccomp program has " + std::to_string(program.size()) +
                 " instructions; the kernel accepts 1 to " + std::to_string(BPF_MAXINSNS));
  }
  // The kernel copies the program in and never writes through this pointer.
  sock_fprog fprog{static_cast<unsigned short>(program.size()),
                   const_cast<sock_filter*>(program.data())};
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog);
  if (rc != 0 && errno == ENOSYS) {
    // Kernels before 3.17 have no seccomp(2), only the prctl.
    rc = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0);
  }
  if (rc != 0) {
    if (errno == EACCES) {
      return Error::fromErrno(
          "cannot install the seccomp filter: no_new_privs is not set and the process lacks "
          "CAP_SYS_ADMIN");
    }
    return Error::fromErrno("cannot install the seccomp filter");
  }
  return okStatus();
}

}  // namespace tandem::container

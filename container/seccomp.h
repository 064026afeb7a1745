// The default seccomp filter: an allowlist comparable to docker's default profile. Anything
// outside it fails with EPERM. Compiled once in the runtime, installed in the container.
#pragma once

#include <linux/filter.h>
#include <sys/capability.h>

#include <string>
#include <vector>

#include "common/result.h"

namespace tandem::container {

// Syscall names allowed for every workload, whatever its capabilities. Some exist only for
// i386 or x32, or only in kernels newer than this libseccomp; those the compiler resolves
// where they exist and skips where they do not.
const std::vector<std::string>& defaultAllowedSyscalls();

// Allowed for every workload too, but only on kernels from 4.8 on: before that, a tracer
// could rewrite a syscall after seccomp had checked it.
const std::vector<std::string>& tracingSyscalls();

// Syscalls docker allows only to a workload that holds `capability`.
struct CapabilityGatedSyscalls {
  cap_value_t capability;
  std::vector<std::string> names;
};
const std::vector<CapabilityGatedSyscalls>& capabilityGatedSyscalls();

// The secondary syscall ABIs this kernel runs. Each one the filter covers costs the program
// about 330 instructions, and installing it costs time at every container start.
struct SyscallAbis {
  bool i386 = false;  // int 0x80 (IA32 emulation)
  bool x32 = false;   // x86-64 numbers with the x32 bit set
};
SyscallAbis detectSyscallAbis();

// Compiles the default profile into classic BPF for x86-64, with those of its i386 and x32 ABIs
// that this kernel runs held to the same allowlist rather than left as a way around it. ABIs it
// does not run get ENOSYS, as the kernel itself would answer. Syscalls that docker allows only
// with a capability (mount with CAP_SYS_ADMIN, ...) are allowed here only when `caps` holds it.
Result<std::vector<sock_filter>> compileDefaultSeccompProgram(const std::vector<cap_value_t>& caps);

// A libseccomp filter context (scmp_filter_ctx) as the classic BPF program it stands for.
Result<std::vector<sock_filter>> exportSeccompProgram(void* filter);

// Installs a compiled program in the calling thread. The caller has set no_new_privs.
Status installSeccompProgram(const std::vector<sock_filter>& program);

}  // namespace tandem::container

// The default seccomp filter: an allowlist comparable to docker's default profile. Anything
// outside it fails with EPERM. Compiled once in the runtime, installed in the container.
#pragma once

#include <linux/filter.h>
#include <sys/capability.h>

#include <string>
#include <vector>

#include "common/result.h"

namespace tandem::container {

// Syscall names allowed for every workload, whatever its capabilities.
const std::vector<std::string>& defaultAllowedSyscalls();

// Compiles the default profile for x86-64 (and its x32/i386 variants rejected) into classic BPF.
// Syscalls that docker allows only with a capability (mount with CAP_SYS_ADMIN, ...) are
// allowed here only when `caps` holds it.
Result<std::vector<sock_filter>> compileDefaultSeccompProgram(const std::vector<cap_value_t>& caps);

// Installs a compiled program in the calling thread. The caller has set no_new_privs.
Status installSeccompProgram(const std::vector<sock_filter>& program);

}  // namespace tandem::container

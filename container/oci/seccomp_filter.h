// A config.json seccomp profile (linux.seccomp) compiled with libseccomp into the classic BPF
// program the container's process installs, as runc compiles it: syscall names this kernel or
// libseccomp do not know are skipped, rules whose action is the default are dropped, and
// conditions on the same argument become rules of their own (any one of them matching).
#pragma once

#include <linux/filter.h>

#include <vector>

#include "common/oci/runtime_spec.h"
#include "common/result.h"

namespace tandem::container {

Result<std::vector<sock_filter>> compileSeccompProfile(const oci::Seccomp& profile);

// The program for a bundle's linux.seccomp; empty when it has none.
Result<std::vector<sock_filter>> seccompProgramFor(const oci::Spec& spec);

}  // namespace tandem::container

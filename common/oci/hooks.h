// Runs a list of config.json hooks, as runtime-spec config.md says: each in order, the
// container's state JSON on its stdin, its own args and env (nothing inherited), killed at its
// timeout. A hook that fails (non-zero exit, timeout) stops the list with an error naming it.
#pragma once

#include <string>
#include <vector>

#include "common/oci/runtime_spec.h"
#include "common/result.h"

namespace tandem::oci {

// `phase` names the list in errors ("createRuntime"). The hooks' stdout and stderr are this
// process's.
Status runHooks(const std::vector<Hook>& hooks, const std::string& stateJson, const char* phase);

}  // namespace tandem::oci

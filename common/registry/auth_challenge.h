// WWW-Authenticate challenges (RFC 7235 section 4.1) as registries send them on a 401:
// `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="..."` or
// `Basic realm="Registry"`. Parsing is a pure function of the header's text.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tandem::registry {

struct AuthChallenge {
  std::string scheme;                         // lowercased: "bearer", "basic"
  std::map<std::string, std::string> params;  // names lowercased, values unquoted
};

// One header may carry several challenges separated by commas, and quoted values may hold commas
// and backslash-escaped quotes. The error names the header and the place it stops making sense.
Result<std::vector<AuthChallenge>> parseAuthChallenges(std::string_view header);

}  // namespace tandem::registry

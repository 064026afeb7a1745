// Signals as users name them: "TERM", "SIGTERM" or "15", as kill(1) and docker kill take them.
#pragma once

#include <string>

#include "common/result.h"

namespace tandem {

Result<int> parseSignal(const std::string& text);

}  // namespace tandem

// Logging through spdlog, to stderr, at a level the user picks with --log-level.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

#include "common/result.h"

namespace tandem {

// Accepts trace, debug, info, warn, error, critical and off.
Status setLogLevel(std::string_view level);

// Sets up the stderr logger once; every later spdlog call goes there, its lines prefixed with
// the program's name.
void initLogging(std::string_view program = "tandem");

}  // namespace tandem

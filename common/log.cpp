#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <string>

namespace tandem {

namespace {

std::string& programName() {
  static std::string name = "tandem";
  return name;
}

}  // namespace

void initLogging(std::string_view program) {
  programName() = std::string(program);
  // Non-colour, unsynchronised sink: tandem logs from one thread, and a child forked before exec
  // must not inherit a held mutex.
  auto logger = spdlog::stderr_logger_st(programName());
  logger->set_pattern(programName() + ": %l: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::warn);
}

Status setLogLevel(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  // from_str answers "off" for anything it does not know, so an unknown name must be caught here.
  if (parsed == spdlog::level::off && level != "off") {
    return Error("unknown log level \"" + std::string(level) +
                 "\"; use trace, debug, info, warn, error, critical or off");
  }
  spdlog::set_level(parsed);
  if (parsed <= spdlog::level::debug) {
    // Debug output is for finding where time goes, so it carries microsecond timestamps.
    spdlog::set_pattern(programName() + ": %H:%M:%S.%f %l: %v");
  }
  return okStatus();
}

}  // namespace tandem

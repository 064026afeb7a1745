#include "tools/oci/oci_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "common/oci/container_state.h"
#include "common/unique_fd.h"

namespace tandem::oci_cli {

namespace {

LogTarget& target() {
  static LogTarget current;
  return current;
}

void append(const char* level, const std::string& message) {
  const LogTarget& log = target();
  if (log.path.empty()) return;
  UniqueFd fd(::open(log.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (!fd) return;
  std::string line =
      log.json
          ? nlohmann::json{{"level", level}, {"msg", message}, {"time", oci::rfc3339Now()}}.dump()
          : "time=\"" + oci::rfc3339Now() + "\" level=" + level + " msg=\"" + message + "\"";
  line += "\n";
  // One write, so lines from concurrent commands do not interleave.
  (void)!::write(fd.get(), line.data(), line.size());
}

}  // namespace

void configureLog(const LogTarget& log) {
  target() = log;
}

void logError(const std::string& message) {
  append("error", message);
  std::cerr << message << "\n";
}

void logDebug(const std::string& message) {
  if (target().debug) {
    append("debug", message);
    if (target().path.empty()) std::cerr << message << "\n";
  }
}

}  // namespace tandem::oci_cli

// Where the runtime's messages go, as engines expect of runc: --log FILE (else stderr), as
// plain text or, with --log-format json, one {"level","msg","time"} object a line, which
// containerd's shim reads back to report why a command failed.
#pragma once

#include <string>

namespace tandem::oci_cli {

struct LogTarget {
  std::string path;  // empty: stderr only
  bool json = false;
  bool debug = false;
};

void configureLog(const LogTarget& target);

// An error: to the log (if any) and to stderr, as runc writes it.
void logError(const std::string& message);
void logDebug(const std::string& message);

}  // namespace tandem::oci_cli

// How the container's first process tells the runtime why it could not exec the workload: one
// fixed-size record on a close-on-exec pipe. A successful exec closes the pipe with no record.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace tandem::container {

struct ChildFailure {
  int exitCode = 0;  // 125, 126 or 127 by docker's convention
  char message[2048] = {};
};

// Fills and writes the record, then exits with its code. Only async-signal-safe enough for a
// child of a single-threaded process, which is where it runs.
[[noreturn]] void reportChildFailure(int pipe, int exitCode, const std::string& message);

// The failure record a child left, if any, else nullopt. Blocks until a record arrives or no
// writer of the pipe is left: a successful exec closes the child's end.
std::optional<ChildFailure> readChildFailure(int pipe);

}  // namespace tandem::container

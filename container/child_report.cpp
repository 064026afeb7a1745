#include "container/child_report.h"

#include <unistd.h>

#include <cerrno>

#include <cstring>

namespace tandem::container {

void reportChildFailure(int pipe, int exitCode, const std::string& message) {
  ChildFailure failure;
  failure.exitCode = exitCode;
  std::strncpy(failure.message, message.c_str(), sizeof failure.message - 1);
  // One write of less than PIPE_BUF bytes is atomic, so the runtime reads all of it or nothing.
  (void)::write(pipe, &failure, sizeof failure);
  ::_exit(exitCode);
}

std::optional<ChildFailure> readChildFailure(int pipe) {
  ChildFailure failure;
  ssize_t n;
  while ((n = ::read(pipe, &failure, sizeof failure)) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof failure)) {
    return std::nullopt;
  }
  return failure;
}

}  // namespace tandem::container

// tandem exec-process SYNC_FD ERROR_FD PID START ID: internal. `tandem exec` for a container
// re-executes into this from a protected copy of tandem (container/container_exec.h), which
// receives the command's configuration and enters container ID through its first process PID
// (started at START).
#include <fcntl.h>

#include <charconv>
#include <iostream>

#include "common/process.h"
#include "container/child_report.h"
#include "container/container_exec.h"
#include "container/sealed_binary.h"
#include "tools/tandem/commands.h"

namespace tandem::cli {

namespace {

template <class T>
bool parseNumber(const std::string& text, T& value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

int execProcessCommand(const GlobalOptions&, const std::vector<std::string>& args, char**) {
  int syncSocket = -1;
  int errorPipe = -1;
  container::ExecTarget target;
  if (args.size() != 5 || !parseNumber(args[0], syncSocket) || !parseNumber(args[1], errorPipe) ||
      syncSocket <= 2 || errorPipe <= 2 || !parseNumber(args[2], target.pid) ||
      !parseNumber(args[3], target.startTime) || !container::runningFromProtectedCopy()) {
    std::cerr << "tandem: exec-process is internal to tandem exec\n";
    return kExitRuntimeError;
  }
  target.id = args[4];
  auto config = container::receiveConfig(syncSocket);
  if (!config) {
    container::reportChildFailure(errorPipe, kExitRuntimeError, config.error().describe());
  }
  // Back to close-on-exec: the command's exec closing the pipe is how tandem exec sees success.
  for (int fd : {syncSocket, errorPipe}) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  config->syncSocket = syncSocket;
  config->errorPipe = errorPipe;
  container::continueExecProcess(*config, target);
}

}  // namespace tandem::cli

// tandem container-process SYNC_FD ERROR_FD: internal. The container's first process
// re-executes into this from a protected copy of tandem (see container/sealed_binary.h),
// receives its configuration on the sync socket and carries on with the container's setup.
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <iostream>

#include "common/process.h"
#include "container/child_report.h"
#include "container/container_process.h"
#include "container/sealed_binary.h"
#include "tools/tandem/commands.h"

namespace tandem::cli {

namespace {

bool parseFd(const std::string& text, int& fd) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), fd);
  return ec == std::errc() && end == text.data() + text.size() && fd > 2;
}

}  // namespace

int containerProcessCommand(const GlobalOptions&, const std::vector<std::string>& args, char**) {
  int syncSocket = -1;
  int errorPipe = -1;
  if (args.size() != 2 || !parseFd(args[0], syncSocket) || !parseFd(args[1], errorPipe) ||
      !container::runningFromProtectedCopy()) {
    std::cerr << "tandem: container-process is internal to tandem run\n";
    return kExitRuntimeError;
  }
  auto config = container::receiveConfig(syncSocket);
  if (!config) {
    container::reportChildFailure(errorPipe, kExitRuntimeError, config.error().describe());
  }
  // Back to close-on-exec: the workload's exec closing the pipe is how the runtime sees success.
  for (int fd : {config->syncSocket, config->errorPipe}) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  container::continueContainerProcess(*config);
}

}  // namespace tandem::cli

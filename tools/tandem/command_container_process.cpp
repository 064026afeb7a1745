// tandem container-process CONFIG_FD ERROR_FD: internal. The container's first process
// re-executes into this from a sealed copy of tandem (see container/sealed_binary.h) and carries
// on with the container's setup.
#include <fcntl.h>
#include <unistd.h>

#include <iostream>

#include "common/file.h"
#include "common/process.h"
#include "container/child_report.h"
#include "container/container_process.h"
#include "container/sealed_binary.h"
#include "tools/tandem/commands.h"

namespace tandem::cli {

int containerProcessCommand(const GlobalOptions&, const std::vector<std::string>& args, char**) {
  if (args.size() != 2 || !container::runningFromProtectedCopy()) {
    std::cerr << "tandem: container-process is internal to tandem run\n";
    return kExitRuntimeError;
  }
  int errorPipe = std::stoi(args[1]);
  auto text = readFile("/proc/self/fd/" + args[0]);
  ::close(std::stoi(args[0]));
  auto config = text ? container::parseConfig(*text)
                     : Result<container::ContainerProcessConfig>(text.error());
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

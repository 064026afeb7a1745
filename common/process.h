// Process plumbing both backends share: how a wait status becomes an exit code, and pipes.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem {

// Exit codes that follow docker's convention for failures of the runtime itself.
inline constexpr int kExitRuntimeError = 125;
inline constexpr int kExitCannotExecute = 126;
inline constexpr int kExitNotFound = 127;

struct ExitStatus {
  bool signaled = false;
  int code = 0;    // exit code when !signaled
  int signal = 0;  // terminating signal when signaled

  static ExitStatus fromWaitStatus(int status);

  // What a shell reports: the code, or 128+N for death by signal N.
  int shellCode() const { return signaled ? 128 + signal : code; }
  std::string describe() const;
};

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

// Both ends close-on-exec.
Result<Pipe> makePipe();

// The path of the running executable, from /proc/self/exe.
Result<std::string> ownExecutablePath();

// `words` as execve(2) and posix_spawn(3) take an argv or envp: pointers into the strings, then
// a null. The strings must outlive the result.
std::vector<char*> execArgv(const std::vector<std::string>& words);

// Waits for `pid`, retrying on EINTR.
Result<ExitStatus> waitForExit(pid_t pid);

// For a process that outlives the command that started it (and that command's terminal and
// pipes): stdin and stdout from and to /dev/null, stderr appended to `logPath` (made 0600, its
// folder 0700), where the process logs.
Status detachOutputTo(const std::string& logPath);

}  // namespace tandem

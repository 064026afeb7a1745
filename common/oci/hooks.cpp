#include "common/oci/hooks.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "common/file.h"
#include "common/process.h"
#include "common/process_identity.h"

namespace tandem::oci {

namespace {

Status runHook(const Hook& hook, const std::string& stateJson, const std::string& shown) {
  TANDEM_ASSIGN_OR_RETURN(Pipe input, makePipe());
  // args[0] is the hook's argv[0], as in execv; a hook with no args gets its path.
  std::vector<std::string> args =
      hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  std::vector<char*> argv = execArgv(args);
  std::vector<char*> envp = execArgv(hook.env);
  pid_t pid = ::fork();
  if (pid < 0) return Error::fromErrno("cannot start " + shown);
  if (pid == 0) {
    ::dup2(input.read.get(), STDIN_FILENO);
    ::execve(hook.path.c_str(), argv.data(), envp.data());
    ::_exit(kExitCannotExecute);
  }
  input.read.reset();
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  // A hook that does not read its stdin must not make this fail: EPIPE is ignored for the
  // write only. This may run in a container's first process, whose program must not inherit
  // SIGPIPE ignored, nor may the hooks after this one.
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &previous);
  (void)writeAll(input.write.get(), stateJson, shown + "'s stdin");
  ::sigaction(SIGPIPE, &previous, nullptr);
  input.write.reset();
  if (hook.timeoutSeconds && pidfd) {
    auto ended = waitProcessEnd(pidfd.get(), std::chrono::seconds(*hook.timeoutSeconds));
    if (ended && !*ended) {
      ::kill(pid, SIGKILL);
      (void)waitForExit(pid);
      return Error(shown + " did not finish within its timeout of " +
                   std::to_string(*hook.timeoutSeconds) + " s and was killed");
    }
  }
  TANDEM_ASSIGN_OR_RETURN(ExitStatus status, waitForExit(pid));
  if (status.signaled || status.code != 0) {
    return Error(shown + " failed: " + status.describe() +
                 (status.code == kExitCannotExecute ? " (is it an executable?)" : ""));
  }
  return okStatus();
}

}  // namespace

Status runHooks(const std::vector<Hook>& hooks, const std::string& stateJson, const char* phase) {
  for (std::size_t i = 0; i < hooks.size(); ++i) {
    std::string shown =
        std::string(phase) + " hook " + std::to_string(i) + " (" + hooks[i].path + ")";
    TANDEM_TRY(runHook(hooks[i], stateJson, shown));
  }
  return okStatus();
}

}  // namespace tandem::oci

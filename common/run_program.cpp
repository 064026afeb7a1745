#include "common/run_program.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/file.h"
#include "common/process.h"
#include "common/spawn_file_actions.h"
#include "common/unique_fd.h"

extern char** environ;

namespace tandem {

namespace {

// What an error quotes of a failed program's output: its last lines say why.
constexpr std::size_t kQuotedOutputBytes = 2000;

std::string commandText(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) {
    text += (text.empty() ? "" : " ") + arg;
  }
  return text;
}

}  // namespace

Status runProgram(const std::vector<std::string>& argv, const std::string& package) {
  if (argv.empty()) {
    return Error("runProgram needs a program to run", EINVAL);
  }
  UniqueFd output(::memfd_create("tandem-program-output", MFD_CLOEXEC));
  if (!output) {
    return Error::fromErrno("cannot create a memory file for the output of " + argv.front());
  }
  SpawnFileActions actions;
  ::posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(actions.get(), output.get(), STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(actions.get(), output.get(), STDERR_FILENO);
  std::vector<char*> args = execArgv(argv);
  pid_t pid = 0;
  if (int error = ::posix_spawnp(&pid, args.front(), actions.get(), nullptr, args.data(), environ);
      error != 0) {
    if (error == ENOENT) {
      return Error("cannot run " + argv.front() + ": not found on $PATH; install the Debian " +
                       "package " + package,
                   ENOENT);
    }
    return Error::fromErrno("cannot start " + argv.front(), error);
  }
  TANDEM_ASSIGN_OR_RETURN(ExitStatus status, waitForExit(pid));
  if (!status.signaled && status.code == 0) {
    return okStatus();
  }
  std::string said;
  if (::lseek(output.get(), 0, SEEK_SET) == 0) {
    if (auto text = readFile(output.get(), argv.front() + "'s output"); text) {
      said = text->size() > kQuotedOutputBytes ? text->substr(text->size() - kQuotedOutputBytes)
                                               : *text;
      while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) {
        said.pop_back();
      }
    }
  }
  return Error(commandText(argv) + " " + status.describe() + (said.empty() ? "" : ": " + said));
}

}  // namespace tandem

// Starting one of tandem's companion programs where posix_spawn cannot: in new namespaces (a
// microVM's monitor begins as the first process of a pid namespace of its own). The child does
// only what is safe between clone and exec in a threaded parent, and an exec that fails is
// reported to the caller as an error, as posix_spawn reports it.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace tandem {

// clone3 with `flags` (CLONE_NEW* namespaces) and SIGCHLD at exit, as fork(2) returns: 0 in the
// child, its pid in the parent; into the cgroup open as `cgroupFd` unless -1. `what` names the
// child in the error.
Result<pid_t> cloneProcess(std::uint64_t flags, const std::string& what, int cgroupFd = -1);

struct ProgramLaunch {
  std::string program;
  // argv, the program's name first.
  std::vector<std::string> args;
  // Descriptors the program keeps at their numbers; every other close-on-exec one closes.
  std::vector<int> inheritedFds;
  // The program starts with exactly these signals blocked.
  sigset_t signalMask;
  // CLONE_NEW* flags for the namespaces the program starts in.
  std::uint64_t namespaces = 0;
  // A cgroup v2 folder the program starts in (Cgroup::openForClone); -1: the caller's.
  int cgroupFd = -1;
};

// Starts the program; its pid once it runs, or why it could not be started (a missing program,
// a namespace the kernel refused), with nothing left behind.
Result<pid_t> launchProgram(const ProgramLaunch& launch);

}  // namespace tandem

// Supervising a child process of tandem's own: the signals a user sends to tandem reach the
// child, a child is never left running or unreaped when tandem gives up on it, and tandem's
// companion programs are found where they were installed or built.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "common/process.h"
#include "common/result.h"

namespace tandem {

// The set of exactly these signals.
sigset_t signalSet(std::initializer_list<int> signals);

// Blocks `signals` for the calling thread while it lives (so that a signalfd can take them), and
// restores the previous mask after.
class SignalBlock {
 public:
  explicit SignalBlock(const sigset_t& signals);
  ~SignalBlock();
  SignalBlock(const SignalBlock&) = delete;
  SignalBlock& operator=(const SignalBlock&) = delete;
  // The mask from before, which a child should start with.
  const sigset_t& original() const { return original_; }

 private:
  sigset_t original_;
};

// Kills (SIGKILL) and reaps a child unless it was reaped normally.
class ChildGuard {
 public:
  explicit ChildGuard(pid_t pid) : pid_(pid) {}
  ~ChildGuard();
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  void reaped() { pid_ = -1; }

 private:
  pid_t pid_;
};

// Waits for child `pid` to end. `signalFd` is a signalfd whose set includes SIGCHLD (blocked
// since before the child was started); every other signal read from it is sent on to the child.
Result<ExitStatus> waitForwardingSignals(pid_t pid, int signalFd);

// A program that comes with tandem: $`environmentVariable` when set, else `name` next to the
// running executable (an installed tandem), else `buildFolder`/`name` beside it (the build tree,
// where build/tools/tandem has its companions in folders of their own), or beside its folder
// (build/tools/oci/tandem-oci's companions are in build/tools/vmm/...).
std::string companionProgramPath(const char* environmentVariable, std::string_view name,
                                 std::string_view buildFolder);

}  // namespace tandem

// A process's stdin as init feeds it, for the workload (relay.h) and for each exec session
// (agent.h): the bytes received and not yet written, written as the non-blocking pipe takes
// them, and the pipe closed once the input has ended and everything is written, or once the
// process can take no more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/unique_fd.h"

namespace tandem::guest_init {

class StdinFeed {
 public:
  // Input held for a process that does not read it: past this, the source stops being read and
  // the sender waits, rather than the guest's memory filling.
  static constexpr std::size_t kMaxPending = 1 << 20;

  // `pipe` is the write end of the process's stdin, owned by the caller's StartedWorkload.
  explicit StdinFeed(UniqueFd& pipe) : pipe_(pipe) {}

  // Where received input goes (decoders append to it).
  std::vector<std::uint8_t>& pending() { return pending_; }
  void add(std::span<const std::uint8_t> bytes);
  // No more input will come: the pipe closes once what is pending is written.
  void end();
  bool ended() const { return ended_; }
  // Whether more input may be taken in now.
  bool hasRoom() const { return pending_.size() < kMaxPending; }

  // The pipe while there is something to write to it, else -1.
  int writeFd() const { return pending_.empty() ? -1 : pipe_.get(); }
  // The pipe is writable: writes what it takes.
  void write();
  // The process is gone: drops what is pending and closes the pipe.
  void discard();
  // Closes the pipe if the input ended and all of it is written.
  void closeIfDone();

 private:
  UniqueFd& pipe_;
  std::vector<std::uint8_t> pending_;
  bool ended_ = false;
};

}  // namespace tandem::guest_init

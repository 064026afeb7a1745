#include "tools/guest-init/stdin_feed.h"

#include <unistd.h>

#include <cerrno>

namespace tandem::guest_init {

void StdinFeed::add(std::span<const std::uint8_t> bytes) {
  if (!ended_) pending_.insert(pending_.end(), bytes.begin(), bytes.end());
}

void StdinFeed::end() {
  ended_ = true;
  closeIfDone();
}

void StdinFeed::write() {
  ssize_t n = ::write(pipe_.get(), pending_.data(), pending_.size());
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN) return;
    // EPIPE: the process closed its stdin (or never read it and exited): the rest is for no
    // one. SIGPIPE is blocked, so this is only an error code.
    discard();
    return;
  }
  pending_.erase(pending_.begin(), pending_.begin() + n);
  closeIfDone();
}

void StdinFeed::discard() {
  pending_.clear();
  pipe_.reset();
}

void StdinFeed::closeIfDone() {
  if (ended_ && pending_.empty()) pipe_.reset();
}

}  // namespace tandem::guest_init

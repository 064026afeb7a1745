// Writes a TransferProgress to stderr: on a terminal, the rows redrawn in place at most ten times a
// second; elsewhere (a log, a pipe), one plain line per event so the output reads top to bottom.
#pragma once

#include <chrono>
#include <cstddef>

#include "common/registry/transfer_progress.h"

namespace tandem::registry {

class ProgressDisplay {
 public:
  ProgressDisplay(int fd, bool terminal, TransferDirection direction = TransferDirection::kPull)
      : fd_(fd), terminal_(terminal), model_(direction) {}

  TransferProgress& model() { return model_; }
  // A row's state changed in a way a log should record.
  void event(std::size_t row);
  // Bytes moved: redraws a terminal if the last frame is old enough.
  void tick();
  // Draws the final state once more.
  void finish();

 private:
  void draw();

  int fd_;
  bool terminal_;
  TransferProgress model_;
  std::size_t linesDrawn_ = 0;
  std::chrono::steady_clock::time_point lastDraw_{};
};

}  // namespace tandem::registry

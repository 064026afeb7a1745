#include "common/registry/progress_display.h"

#include <sys/ioctl.h>

#include <string>

#include "common/file.h"

namespace tandem::registry {

namespace {

constexpr auto kFrameInterval = std::chrono::milliseconds(100);

}  // namespace

void ProgressDisplay::event(std::size_t row) {
  if (terminal_) {
    draw();
    return;
  }
  // Progress is a courtesy: a closed stderr must not fail the pull.
  (void)writeAll(fd_, model_.plainLine(row), "stderr");
}

void ProgressDisplay::tick() {
  if (terminal_ && std::chrono::steady_clock::now() - lastDraw_ >= kFrameInterval) {
    draw();
  }
}

void ProgressDisplay::finish() {
  if (terminal_) {
    draw();
  }
}

void ProgressDisplay::draw() {
  winsize size{};
  std::size_t width = ::ioctl(fd_, TIOCGWINSZ, &size) == 0 ? size.ws_col : 0;
  std::string frame;
  if (linesDrawn_ > 0) {
    frame = "\x1b[" + std::to_string(linesDrawn_) + "A";  // back to the first row
  }
  std::string rows = model_.renderTerminal(width);
  std::size_t start = 0;
  linesDrawn_ = 0;
  while (start < rows.size()) {
    std::size_t end = rows.find('\n', start);
    frame += "\x1b[2K" + rows.substr(start, end - start + 1);
    start = end + 1;
    ++linesDrawn_;
  }
  (void)writeAll(fd_, frame, "stderr");
  lastDraw_ = std::chrono::steady_clock::now();
}

}  // namespace tandem::registry

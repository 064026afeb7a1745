// The process that records a workload's stdout and stderr in its log file (common/workload_log.h)
// and, for an attached run, copies them to the caller's stdout and stderr as they come. It is a
// process of its own, not a thread of the monitor, so that the monitor can clone the workload
// with no lock held elsewhere; and it ends only when the last writer of the workload's output is
// gone, so a monitor killed by SIGKILL loses none of what the workload wrote.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem::scheduler {

// How big a log may grow, as docker's json-file max-size and max-file: past `maxBytes` the log
// becomes log.1 (log.1 becomes log.2, and so on, keeping `maxFiles` files in all) and a new log
// begins. 0: no limit.
struct LogLimits {
  std::uint64_t maxBytes = 0;
  unsigned maxFiles = 1;
};

// Parses docker's --log-opt max-size=SIZE and max-file=N into `limits`.
Status applyLogOption(const std::string& option, LogLimits& limits);

// The log's files, oldest first: the rotated ones that exist, then the current one.
std::vector<std::string> logFiles(const std::string& logPath, unsigned maxFiles);

class LogRelay {
 public:
  // Appends to `logPath` (created 0640), rotating it by `limits`. With `copyToCaller`, this
  // process's stdout and stderr get the output too, until writing to one fails (a reader that
  // went away).
  static Result<LogRelay> start(const std::string& logPath, bool copyToCaller,
                                const LogLimits& limits = {});

  LogRelay(LogRelay&&) noexcept = default;
  LogRelay& operator=(LogRelay&&) noexcept = default;
  // Without wait(), the relay finishes on its own once the output's writers are gone.
  ~LogRelay() = default;

  // The ends the workload writes its stdout and stderr to, close-on-exec.
  UniqueFd& stdoutWriter() { return stdout_; }
  UniqueFd& stderrWriter() { return stderr_; }

  // Waits until the relay has recorded everything: call once every copy of the writers,
  // this process's included, is closed.
  Status wait();

 private:
  LogRelay(pid_t pid, UniqueFd out, UniqueFd err)
      : pid_(pid), stdout_(std::move(out)), stderr_(std::move(err)) {}

  pid_t pid_ = 0;
  UniqueFd stdout_;
  UniqueFd stderr_;
};

}  // namespace tandem::scheduler

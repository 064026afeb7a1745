// The log file of a workload's output, in the CRI logging format that conmon and the kubelet
// use, so the tools that read those read ours: one record a line,
//   2026-12-06T09:13:27.123456789Z stdout F a full line
//   2026-12-06T09:13:27.123456789Z stderr P a piece without its newline
// where F ends a line of the output and P is a piece the workload wrote without one. Output is
// split only at newlines and kept byte for byte: joining the records gives it back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tandem {

enum class LogStream { kStdout, kStderr };

struct LogRecord {
  std::int64_t timeNs = 0;  // CLOCK_REALTIME
  LogStream stream = LogStream::kStdout;
  bool partial = false;
  std::string text;  // without the newline that a full record ends

  // The output this record stands for: its text, with the newline when it ends a line.
  std::string output() const { return partial ? text : text + "\n"; }
};

// The records for one read of `stream` at `timeNs`: every complete line as F, and what follows
// the last newline, if anything, as P. Empty for empty data.
std::string formatLogRecords(LogStream stream, std::string_view data, std::int64_t timeNs);

// One line of a log file, without its newline. Nothing for a line that is not a record.
std::optional<LogRecord> parseLogRecord(std::string_view line);

// "2026-12-06T09:13:27.123456789Z" for `timeNs`.
std::string formatLogTime(std::int64_t timeNs);

}  // namespace tandem

#include "common/workload_log.h"

#include <time.h>

#include <charconv>

namespace tandem {

namespace {

constexpr std::int64_t kNsPerSecond = 1'000'000'000;

const char* streamName(LogStream stream) {
  return stream == LogStream::kStdout ? "stdout" : "stderr";
}

template <class T>
bool parseDigits(std::string_view text, T& value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

// The inverse of formatLogTime; nothing for any other text.
std::optional<std::int64_t> parseLogTime(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ
  if (text.size() != 30 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != '.' || text[29] != 'Z') {
    return std::nullopt;
  }
  tm fields{};
  std::int64_t nanos = 0;
  if (!parseDigits(text.substr(0, 4), fields.tm_year) ||
      !parseDigits(text.substr(5, 2), fields.tm_mon) ||
      !parseDigits(text.substr(8, 2), fields.tm_mday) ||
      !parseDigits(text.substr(11, 2), fields.tm_hour) ||
      !parseDigits(text.substr(14, 2), fields.tm_min) ||
      !parseDigits(text.substr(17, 2), fields.tm_sec) || !parseDigits(text.substr(20, 9), nanos)) {
    return std::nullopt;
  }
  fields.tm_year -= 1900;
  fields.tm_mon -= 1;
  time_t seconds = ::timegm(&fields);
  return static_cast<std::int64_t>(seconds) * kNsPerSecond + nanos;
}

}  // namespace

std::string formatLogTime(std::int64_t timeNs) {
  time_t seconds = static_cast<time_t>(timeNs / kNsPerSecond);
  tm fields{};
  ::gmtime_r(&seconds, &fields);
  char text[40];
  std::size_t length = ::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &fields);
  std::string formatted(text, length);
  std::string nanos = std::to_string(timeNs % kNsPerSecond);
  formatted += '.' + std::string(9 - nanos.size(), '0') + nanos + 'Z';
  return formatted;
}

std::string formatLogRecords(LogStream stream, std::string_view data, std::int64_t timeNs) {
  std::string prefix = formatLogTime(timeNs) + ' ' + streamName(stream) + ' ';
  std::string records;
  while (!data.empty()) {
    std::size_t newline = data.find('\n');
    bool partial = newline == std::string_view::npos;
    std::size_t length = partial ? data.size() : newline;
    records += prefix;
    records += partial ? "P " : "F ";
    records.append(data.substr(0, length));
    records += '\n';
    data.remove_prefix(partial ? length : length + 1);
  }
  return records;
}

std::optional<LogRecord> parseLogRecord(std::string_view line) {
  std::size_t timeEnd = line.find(' ');
  if (timeEnd == std::string_view::npos) return std::nullopt;
  auto time = parseLogTime(line.substr(0, timeEnd));
  if (!time) return std::nullopt;
  std::string_view rest = line.substr(timeEnd + 1);
  LogRecord record;
  record.timeNs = *time;
  if (rest.starts_with("stdout ")) {
    record.stream = LogStream::kStdout;
  } else if (rest.starts_with("stderr ")) {
    record.stream = LogStream::kStderr;
  } else {
    return std::nullopt;
  }
  rest.remove_prefix(7);
  if (rest.starts_with("F ")) {
    record.partial = false;
  } else if (rest.starts_with("P ")) {
    record.partial = true;
  } else {
    return std::nullopt;
  }
  record.text = std::string(rest.substr(2));
  return record;
}

}  // namespace tandem

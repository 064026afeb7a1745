// tandem logs: a workload's output from the log its monitor keeps (common/workload_log.h), stdout
// to stdout and stderr to stderr, at either isolation level; with -f, followed until the
// workload ends.
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <iostream>

#include "common/file.h"
#include "common/process_identity.h"
#include "common/workload_log.h"
#include "scheduler/log_relay.h"
#include "scheduler/workload_monitor.h"
#include "tools/tandem/commands.h"
#include "tools/tandem/verb_options.h"
#include "tools/tandem/workload_state.h"

namespace po = boost::program_options;

namespace tandem::cli {
namespace {

// Writes records as the workload wrote them, each stream to its own descriptor.
class LogPrinter {
 public:
  explicit LogPrinter(bool timestamps) : timestamps_(timestamps) {}

  Status print(const LogRecord& record) {
    int stream = record.stream == LogStream::kStdout ? 0 : 1;
    std::string text;
    // A line written in pieces gets one timestamp, its first piece's.
    if (timestamps_ && atLineStart_[stream]) text = formatLogTime(record.timeNs) + " ";
    text += record.output();
    atLineStart_[stream] = !record.partial;
    return writeAll(stream == 0 ? STDOUT_FILENO : STDERR_FILENO, text, "the output");
  }

 private:
  bool timestamps_;
  bool atLineStart_[2] = {true, true};
};

// The log's complete lines parsed from `pending` (which keeps any unfinished last line).
std::vector<LogRecord> takeRecords(std::string& pending) {
  std::vector<LogRecord> records;
  std::size_t start = 0;
  for (std::size_t newline; (newline = pending.find('\n', start)) != std::string::npos;
       start = newline + 1) {
    if (auto record = parseLogRecord(std::string_view(pending).substr(start, newline - start))) {
      records.push_back(std::move(*record));
    }
  }
  pending.erase(0, start);
  return records;
}

// The index of the first record of the last `lines` lines (a line: pieces, then its end).
std::size_t tailStart(const std::vector<LogRecord>& records, std::size_t lines) {
  std::size_t ends = 0;
  for (std::size_t i = records.size(); i > 0; --i) {
    if (!records[i - 1].partial && ends++ == lines) return i;
  }
  return 0;
}

Status readMore(int fd, std::string& pending) {
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::fromErrno("cannot read the workload's log");
    if (n == 0) return okStatus();
    pending.append(buffer, static_cast<std::size_t>(n));
  }
}

// The most files a rotated log keeps (--log-opt max-file).
constexpr unsigned kMaxLogFiles = 100;

// After the relay rotated the log: with the old file read to its end, the new one at `path`
// from its start (watched instead), or, when the log was started again in place, its start.
Status followRotation(const std::string& path, UniqueFd& log, std::string& pending) {
  struct stat reading {
  }, named{};
  if (::fstat(log.get(), &reading) != 0) return Error::fromErrno("cannot read the log " + path);
  if (::stat(path.c_str(), &named) == 0 && named.st_ino != reading.st_ino) {
    log.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!log) return Error::fromErrno("cannot open the rotated log " + path);
    return readMore(log.get(), pending);
  }
  if (::lseek(log.get(), 0, SEEK_CUR) > reading.st_size) {
    ::lseek(log.get(), 0, SEEK_SET);
    return readMore(log.get(), pending);
  }
  return okStatus();
}

}  // namespace

int logsCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  po::options_description options(
      "usage: tandem logs [-f] [-t] [-n LINES] WORKLOAD\n"
      "Shows a workload's output, stdout on stdout and stderr on stderr.\noptions");
  options.add_options()("help,h", "show this help")(
      "follow,f", po::bool_switch(), "keep printing new output until the workload ends")(
      "timestamps,t", po::bool_switch(), "begin each line with the time it was written")(
      "tail,n", po::value<std::size_t>(), "only the last LINES lines")(
      "workload", po::value<std::string>(), "the workload's name, id or id prefix");
  po::positional_options_description positional;
  positional.add("workload", 1);
  po::variables_map vm;
  if (auto done = parseVerbOptions(args, options, positional, vm)) return *done;
  if (!vm.count("workload")) return fail(Error("usage: tandem logs [-f] [-t] [-n LINES] WORKLOAD"));
  auto store = openWorkloadStore(global);
  if (!store) return fail(store.error());
  auto record = store->find(vm["workload"].as<std::string>());
  if (!record) return fail(record.error());
  std::string path = scheduler::workloadLogPath(global.stateRoot, record->id);
  if (!pathExists(path)) {
    return fail(Error("workload " + record->id.substr(0, 12) + " has no log at " + path, ENOENT));
  }
  // Watched before the first read, so that nothing written in between goes unnoticed.
  UniqueFd changes;
  UniqueFd monitor;
  if (vm["follow"].as<bool>() && record->state == scheduler::WorkloadState::kRunning) {
    changes.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    // The folder, not the file: a rotation puts a new file at the log's name, which a watch on
    // the old one would never hear of.
    std::string folder = path.substr(0, path.rfind('/'));
    if (!changes || ::inotify_add_watch(changes.get(), folder.c_str(),
                                        IN_MODIFY | IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO) < 0) {
      return fail(Error::fromErrno("cannot watch " + folder));
    }
    if (auto opened = openProcess(record->ownerPid, record->ownerStart)) {
      monitor = std::move(opened).value();
    }
  }
  // The rotated files first (scheduler/log_relay.h), oldest first, then the current one.
  std::string pending;
  UniqueFd log;
  for (const std::string& file : scheduler::logFiles(path, kMaxLogFiles)) {
    log.reset(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!log) {
      // Rotated away between the listing and the open: what it held is in the next file.
      if (errno == ENOENT) continue;
      return fail(Error::fromErrno("cannot open the log " + file));
    }
    if (auto read = readMore(log.get(), pending); !read) return fail(read.error());
  }
  std::vector<LogRecord> records = takeRecords(pending);
  std::size_t first = vm.count("tail") ? tailStart(records, vm["tail"].as<std::size_t>()) : 0;
  LogPrinter printer(vm["timestamps"].as<bool>());
  for (std::size_t i = first; i < records.size(); ++i) {
    if (!printer.print(records[i])) return 0;
  }
  // Following: new records as they come, until the monitor is gone and the log is read to its
  // end (the monitor ends only after the log is complete).
  while (monitor) {
    pollfd fds[2] = {{changes.get(), POLLIN, 0}, {monitor.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
      return fail(Error::fromErrno("cannot wait for the workload's output"));
    }
    if (fds[0].revents & POLLIN) {
      char events[4096];
      while (::read(changes.get(), events, sizeof events) > 0) {
      }
    }
    if (fds[1].revents & POLLIN) monitor.reset();
    if (auto read = readMore(log.get(), pending); !read) return fail(read.error());
    if (auto followed = followRotation(path, log, pending); !followed) {
      return fail(followed.error());
    }
    for (const LogRecord& next : takeRecords(pending)) {
      if (!printer.print(next)) return 0;
    }
  }
  return 0;
}

}  // namespace tandem::cli

// tandem: run a workload under hardware-level (microVM) or OS-level (container) isolation.
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/process.h"
#include "tools/tandem/commands.h"

namespace {

constexpr const char* kUsage =
    "usage: tandem [--version] [--log-level LEVEL] [--state-root DIR] COMMAND [ARGS...]\n"
    "\n"
    "commands:\n"
    "  run     run a workload, to completion or with -d in the background (run --help)\n"
    "  explain the isolation level a run would get, and why, without running it\n"
    "  exec    run another process in a running microVM\n"
    "  ps      list workloads, containers and microVMs alike (-a: ended ones too)\n"
    "  inspect show workloads' records, with the isolation level chosen and why\n"
    "  rm      remove ended workloads' records and what they kept (-f: stop them first)\n"
    "  logs    show a workload's output (-f: follow it)\n"
    "  stop    stop running workloads: SIGTERM, then SIGKILL after a grace period\n"
    "  kill    send running workloads a signal\n"
    "  wait    wait for workloads to end and print their exit codes\n"
    "  stats   CPU, memory and processes of running workloads, both levels side by side\n"
    "  task    run ECS-like tasks (one microVM, or containers sharing a network), list, stop\n"
    "  service keep N tasks of a definition running, replacing failed ones; scale, remove\n"
    "  images  list the stored images\n"
    "  rmi     remove images\n"
    "  load    import an OCI image layout or a docker save archive\n"
    "  save    export stored images as an OCI image layout (tar or folder)\n"
    "  pull    pull an image from a registry into the store\n"
    "  push    push a stored image to a registry\n"
    "  tag     give a stored image another name\n"
    "  image   ls, rm, inspect, prune, load, save, unpack\n"
    "  bench   both levels beside runc, crun, bwrap, QEMU and libvirt, measured; a report\n";

struct Verb {
  const char* name;
  int (*handler)(const tandem::cli::GlobalOptions&, const std::vector<std::string>&, char**);
};

// One verb a line, however many there are (clang-format would lay them out in columns).
// clang-format off
constexpr Verb kVerbs[] = {
    {"run", tandem::cli::runCommand},
    {"explain", tandem::cli::explainCommand},
    {"exec", tandem::cli::execCommand},
    {"ps", tandem::cli::psCommand},
    {"inspect", tandem::cli::inspectCommand},
    {"rm", tandem::cli::rmCommand},
    {"logs", tandem::cli::logsCommand},
    {"stop", tandem::cli::stopCommand},
    {"kill", tandem::cli::killCommand},
    {"wait", tandem::cli::waitCommand},
    {"stats", tandem::cli::statsCommand},
    {"task", tandem::cli::taskCommand},
    {"service", tandem::cli::serviceCommand},
    {"images", tandem::cli::imagesCommand},
    {"rmi", tandem::cli::rmiCommand},
    {"load", tandem::cli::loadCommand},
    {"save", tandem::cli::saveCommand},
    {"image", tandem::cli::imageCommand},
    {"pull", tandem::cli::pullCommand},
    {"push", tandem::cli::pushCommand},
    {"tag", tandem::cli::tagCommand},
    {"bench", tandem::cli::benchCommand},
    {"container-process", tandem::cli::containerProcessCommand},
    {"exec-process", tandem::cli::execProcessCommand},
};
// clang-format on

}  // namespace

int main(int argc, char** argv) {
  tandem::initLogging();
  tandem::cli::GlobalOptions global;
  int index = 1;
  // Global options come before the verb; the verb parses the rest with its own table.
  for (; index < argc && argv[index][0] == '-'; ++index) {
    std::string option = argv[index];
    auto value = [&]() -> const char* { return index + 1 < argc ? argv[++index] : nullptr; };
    if (option == "-h" || option == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (option == "--version") {
      std::cout << "tandem " TANDEM_VERSION "\n";
      return 0;
    }
    if (option == "--log-level" || option == "--state-root") {
      const char* text = value();
      if (text == nullptr) {
        std::cerr << "tandem: " << option << " needs a value\n";
        return tandem::kExitRuntimeError;
      }
      if (option == "--state-root") {
        global.stateRoot = text;
      } else if (auto status = tandem::setLogLevel(text); !status) {
        std::cerr << "tandem: " << status.error().describe() << "\n";
        return tandem::kExitRuntimeError;
      }
      continue;
    }
    std::cerr << "tandem: unknown option " << option << "\n" << kUsage;
    return tandem::kExitRuntimeError;
  }
  if (index == argc) {
    std::cerr << kUsage;
    return tandem::kExitRuntimeError;
  }
  std::string verb = argv[index];
  std::vector<std::string> args(argv + index + 1, argv + argc);
  for (const auto& candidate : kVerbs) {
    if (verb == candidate.name) {
      return candidate.handler(global, args, argv);
    }
  }
  std::cerr << "tandem: unknown command \"" << verb << "\"\n" << kUsage;
  return tandem::kExitRuntimeError;
}

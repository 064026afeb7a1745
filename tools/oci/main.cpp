// tandem-oci: tandem's container runtime behind the command line runc defines, for engines
// that drive an OCI runtime (podman --runtime, containerd's runc shim with BinaryName).
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "common/log.h"
#include "tools/oci/oci_arguments.h"
#include "tools/oci/oci_commands.h"
#include "tools/oci/oci_log.h"

namespace {

using namespace tandem::oci_cli;

constexpr const char* kUsage =
    "usage: tandem-oci [--root DIR] [--log FILE] [--log-format text|json] [--debug]\n"
    "                  [--systemd-cgroup] COMMAND [OPTIONS] ID\n"
    "\n"
    "commands (as runc's):\n"
    "  create   build a container from a bundle and leave it waiting for start\n"
    "           [--bundle DIR] [--pid-file FILE] [--console-socket SOCKET] [--no-pivot]\n"
    "  start    run the process of a created container\n"
    "  run      create and start; wait for the process unless --detach\n"
    "  state    print a container's state as JSON\n"
    "  kill     send a signal (default SIGTERM) to a container's process [--all]\n"
    "  delete   remove a stopped (or created) container [--force]\n"
    "  exec     run another process in a running container [--process FILE | COMMAND...]\n"
    "           [--detach] [--pid-file FILE] [--console-socket SOCKET] [--tty] [--env K=V]\n"
    "           [--cwd DIR] [--user UID[:GID]]\n"
    "  ps       list a container's processes [--format table|json]\n"
    "  list     list containers [--format table|json] [--quiet]\n"
    "  features print what this runtime supports, as JSON\n"
    "  spec     write a default config.json [--bundle DIR]\n";

struct Command {
  const char* name;
  int (*handler)(const GlobalOptions&, const Arguments&);
};

// clang-format off
constexpr Command kCommands[] = {
    {"create", createCommand},
    {"start", startCommand},
    {"run", runCommand},
    {"state", stateCommand},
    {"kill", killCommand},
    {"delete", deleteCommand},
    {"exec", execCommand},
    {"ps", psCommand},
    {"list", listCommand},
    {"features", featuresCommand},
    {"spec", specCommand},
    {"bundle-process", bundleProcessCommand},
    {"exec-process", execProcessCommand},
    {"vm-process", vmProcessCommand},
};
// clang-format on

const std::vector<OptionSpec> kGlobalOptions{
    {{"--root"}, true},
    {{"--log"}, true},
    {{"--log-format"}, true},
    {{"--debug"}, false},
    {{"--systemd-cgroup"}, false},
    {{"--criu"}, true},
    {{"--rootless"}, true},
    {{"--log-level"}, true},
    {{"--help", "-h"}, false},
    {{"--version", "-v"}, false},
};

}  // namespace

int main(int argc, char** argv) {
  tandem::initLogging();
  std::vector<std::string> all(argv + 1, argv + argc);
  // Global options end at the first word that is not one (the command).
  std::size_t index = 0;
  std::vector<std::string> globals;
  while (index < all.size() && all[index].starts_with("-")) {
    globals.push_back(all[index]);
    auto spec =
        std::find_if(kGlobalOptions.begin(), kGlobalOptions.end(), [&](const OptionSpec& o) {
          return std::find(o.names.begin(), o.names.end(), all[index]) != o.names.end();
        });
    bool takesValue = spec != kGlobalOptions.end() && spec->takesValue;
    if (takesValue && index + 1 < all.size()) globals.push_back(all[++index]);
    ++index;
  }
  auto parsed = parseArguments(globals, kGlobalOptions);
  if (!parsed) {
    logError(parsed.error().describe());
    return 1;
  }
  if (parsed->has("--help")) {
    std::cout << kUsage;
    return 0;
  }
  if (parsed->has("--version")) {
    std::cout << "tandem-oci version 0.1\nspec: 1.2.0\n";
    return 0;
  }
  std::string format = parsed->value("--log-format", "text");
  if (format != "text" && format != "json") {
    logError("unknown log format \"" + format + "\": use text or json");
    return 1;
  }
  configureLog({parsed->value("--log"), format == "json", parsed->has("--debug")});
  if (parsed->has("--debug")) (void)tandem::setLogLevel("debug");
  if (parsed->has("--log-level")) (void)tandem::setLogLevel(parsed->value("--log-level"));
  GlobalOptions global;
  global.root = parsed->value("--root", global.root);
  global.systemdCgroup = parsed->has("--systemd-cgroup");
  global.program = argv[0];
  if (index == all.size()) {
    std::cerr << kUsage;
    return 1;
  }
  std::string command = all[index];
  Arguments args(all.begin() + static_cast<long>(index) + 1, all.end());
  for (const auto& candidate : kCommands) {
    if (command == candidate.name) return candidate.handler(global, args);
  }
  logError("No help topic for '" + command + "'");
  return 1;
}

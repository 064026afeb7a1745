#include "tools/oci/oci_commands.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "common/child_process.h"
#include "common/file.h"
#include "common/oci/container_directory.h"
#include "common/oci/runtime_spec.h"
#include "common/signal_name.h"
#include "container/child_report.h"
#include "container/container_process.h"
#include "container/oci/bundle_process.h"
#include "container/oci/bundle_runtime.h"
#include "container/runtime.h"
#include "scheduler/bundle_level.h"
#include "scheduler/operator_policy.h"
#include "tools/oci/oci_arguments.h"
#include "tools/oci/oci_log.h"
#include "tools/oci/vm_bundle.h"
#include "vmm/vm_backend.h"

namespace tandem::oci_cli {

namespace {

using container::BundleRuntime;
using container::CreateOptions;

int failed(const Error& error) {
  logError(error.describe());
  return 1;
}

BundleRuntime runtimeFor(const GlobalOptions& global) {
  return BundleRuntime(global.root, global.program);
}

// The parsed options, and exactly `count` positional arguments (the container id first).
Result<ParsedArguments> parseFor(const char* command, const Arguments& args,
                                 const std::vector<OptionSpec>& specs, std::size_t minimum,
                                 std::size_t maximum) {
  auto parsed = parseArguments(args, specs);
  if (!parsed) return std::move(parsed).error();
  std::size_t count = parsed->positional.size();
  if (count < minimum || count > maximum) {
    std::string expected = minimum == maximum
                               ? std::to_string(minimum)
                               : std::to_string(minimum) + " to " + std::to_string(maximum);
    return Error(std::string("\"") + command + "\" requires " + expected + " argument(s), got " +
                 std::to_string(count));
  }
  return parsed;
}

const std::vector<OptionSpec> kCreateOptions{
    {{"--bundle", "-b"}, true}, {{"--pid-file"}, true},        {{"--console-socket"}, true},
    {{"--no-pivot"}, false},    {{"--no-new-keyring"}, false}, {{"--preserve-fds"}, true},
};

CreateOptions createOptionsFrom(const GlobalOptions& global, const ParsedArguments& parsed) {
  CreateOptions options;
  options.id = parsed.positional.front();
  options.pidFile = parsed.value("--pid-file");
  options.consoleSocket = parsed.value("--console-socket");
  options.noPivot = parsed.has("--no-pivot");
  options.systemdCgroup = global.systemdCgroup;
  return options;
}

// The bundle at the level its annotations and this host's policy choose.
Result<pid_t> createAtItsLevel(const GlobalOptions& global, const ParsedArguments& parsed) {
  CreateOptions options = createOptionsFrom(global, parsed);
  TANDEM_ASSIGN_OR_RETURN(oci::Bundle bundle, oci::openBundle(parsed.value("--bundle", ".")));
  TANDEM_ASSIGN_OR_RETURN(scheduler::OperatorPolicy policy,
                          scheduler::loadOperatorPolicy(scheduler::kDefaultPolicyPath, false));
  scheduler::HostFacts host{container::ContainerBackend({}).available(),
                            vmm::VmBackend(vmBundleConfig(global.root)).available(),
                            scheduler::hostMemoryAvailable()};
  TANDEM_ASSIGN_OR_RETURN(
      scheduler::IsolationChoice choice,
      scheduler::chooseBundleLevel(bundle.spec, scheduler::levelInvokedFor(global.program), host,
                                   policy));
  logDebug("container " + options.id + ": " + scheduler::describe(choice));
  if (choice.level == Isolation::kVm) {
    return createVmBundle(global.root, global.program, options, bundle);
  }
  return runtimeFor(global).create(options, bundle);
}

}  // namespace

int createCommand(const GlobalOptions& global, const Arguments& args) {
  auto parsed = parseFor("create", args, kCreateOptions, 1, 1);
  if (!parsed) return failed(parsed.error());
  auto created = createAtItsLevel(global, *parsed);
  return created ? 0 : failed(created.error());
}

int startCommand(const GlobalOptions& global, const Arguments& args) {
  auto parsed = parseFor("start", args, {}, 1, 1);
  if (!parsed) return failed(parsed.error());
  auto started = runtimeFor(global).start(parsed->positional.front());
  return started ? 0 : failed(started.error());
}

int stateCommand(const GlobalOptions& global, const Arguments& args) {
  auto parsed = parseFor("state", args, {}, 1, 1);
  if (!parsed) return failed(parsed.error());
  auto state = runtimeFor(global).state(parsed->positional.front());
  if (!state) return failed(state.error());
  std::cout << state->dump(2) << "\n";
  return 0;
}

int killCommand(const GlobalOptions& global, const Arguments& args) {
  auto parsed = parseFor("kill", args, {{{"--all", "-a"}, false}}, 1, 2);
  if (!parsed) return failed(parsed.error());
  int signal = SIGTERM;
  if (parsed->positional.size() == 2) {
    auto named = parseSignal(parsed->positional[1]);
    if (!named) return failed(named.error());
    signal = *named;
  }
  auto killed = runtimeFor(global).kill(parsed->positional.front(), signal, parsed->has("--all"));
  return killed ? 0 : failed(killed.error());
}

int deleteCommand(const GlobalOptions& global, const Arguments& args) {
  auto parsed = parseFor("delete", args, {{{"--force", "-f"}, false}}, 1, 1);
  if (!parsed) return failed(parsed.error());
  const std::string& id = parsed->positional.front();
  BundleRuntime runtime = runtimeFor(global);
  auto removed = runtime.remove(id, parsed->has("--force"));
  // runc: deleting with --force what does not exist is not an error.
  if (!removed && parsed->has("--force") && removed.error().errnum() == ENOENT) return 0;
  return removed ? 0 : failed(removed.error());
}

int runCommand(const GlobalOptions& global, const Arguments& args) {
  std::vector<OptionSpec> specs = kCreateOptions;
  specs.push_back({{"--detach", "-d"}, false});
  specs.push_back({{"--keep"}, false});
  auto parsed = parseFor("run", args, specs, 1, 1);
  if (!parsed) return failed(parsed.error());
  CreateOptions options = createOptionsFrom(global, *parsed);
  BundleRuntime runtime = runtimeFor(global);
  // Blocked before the container exists, so none of the signals meant for it is lost.
  sigset_t forwarded = container::forwardedSignals();
  SignalBlock blocked(forwarded);
  UniqueFd signals(::signalfd(-1, &forwarded, SFD_CLOEXEC));
  if (!signals) return failed(Error::fromErrno("cannot create a signalfd"));
  auto pid = createAtItsLevel(global, *parsed);
  if (!pid) return failed(pid.error());
  if (auto started = runtime.start(options.id); !started) {
    (void)runtime.remove(options.id, true);
    return failed(started.error());
  }
  if (parsed->has("--detach")) return 0;
  auto status = waitForwardingSignals(*pid, signals.get());
  if (!parsed->has("--keep")) {
    if (auto removed = runtime.remove(options.id, true); !removed) failed(removed.error());
  }
  if (!status) return failed(status.error());
  return status->shellCode();
}

namespace {

// The process for exec without --process: the container's own, with the command and the
// options given.
Result<std::string> processFromOptions(const BundleRuntime& runtime, const std::string& id,
                                       const ParsedArguments& parsed) {
  TANDEM_ASSIGN_OR_RETURN(std::string base, runtime.processTemplate(id));
  nlohmann::json process = nlohmann::json::parse(base);
  std::vector<std::string> command(parsed.positional.begin() + 1, parsed.positional.end());
  if (command.empty()) return Error("exec needs a command, or --process FILE");
  process["args"] = command;
  process["terminal"] = parsed.has("--tty");
  if (parsed.has("--cwd")) process["cwd"] = parsed.value("--cwd");
  for (const std::string& entry : parsed.all("--env")) process["env"].push_back(entry);
  if (parsed.has("--user")) {
    std::string user = parsed.value("--user");
    auto colon = user.find(':');
    try {
      process["user"]["uid"] = std::stoul(user.substr(0, colon));
      process["user"]["gid"] = colon == std::string::npos ? 0 : std::stoul(user.substr(colon + 1));
    } catch (const std::exception&) {
      return Error("--user takes UID[:GID] as numbers, got \"" + user + "\"");
    }
  }
  for (const std::string& gid : parsed.all("--additional-gids")) {
    try {
      process["user"]["additionalGids"].push_back(std::stoul(gid));
    } catch (const std::exception&) {
      return Error("--additional-gids takes numbers, got \"" + gid + "\"");
    }
  }
  for (const std::string& cap : parsed.all("--cap")) {
    for (const char* set : {"bounding", "effective", "permitted", "inheritable", "ambient"}) {
      process["capabilities"][set].push_back(cap);
    }
  }
  if (parsed.has("--no-new-privs")) process["noNewPrivileges"] = true;
  return process.dump();
}

}  // namespace

int execCommand(const GlobalOptions& global, const Arguments& args) {
  const std::vector<OptionSpec> specs{
      {{"--process", "-p"}, true},
      {{"--detach", "-d"}, false},
      {{"--pid-file"}, true},
      {{"--console-socket"}, true},
      {{"--tty", "-t"}, false},
      {{"--cwd"}, true},
      {{"--env", "-e"}, true},
      {{"--user", "-u"}, true},
      {{"--additional-gids", "-g"}, true},
      {{"--cap", "-c"}, true},
      {{"--no-new-privs"}, false},
      {{"--process-label"}, true},
      {{"--apparmor"}, true},
      {{"--preserve-fds"}, true},
      {{"--ignore-paused"}, false},
      {{"--cgroup"}, true},
  };
  auto parsed = parseArguments(args, specs, /*stopAtFirstPositional=*/true);
  if (!parsed) return failed(parsed.error());
  if (parsed->positional.empty()) return failed(Error("\"exec\" requires a container id"));
  const std::string& id = parsed->positional.front();
  BundleRuntime runtime = runtimeFor(global);
  container::ExecRequest request;
  if (parsed->has("--process")) {
    auto text = readFile(parsed->value("--process"));
    if (!text) return failed(text.error());
    request.processText = *text;
  } else {
    auto built = processFromOptions(runtime, id, *parsed);
    if (!built) return failed(built.error());
    request.processText = *built;
  }
  request.detach = parsed->has("--detach");
  request.pidFile = parsed->value("--pid-file");
  request.consoleSocket = parsed->value("--console-socket");
  auto loaded = runtime.load(id);
  if (!loaded) return failed(loaded.error());
  auto code = loaded->record.isolation == "vm" ? execInVmBundle(global.root, id, request)
                                               : runtime.exec(id, request);
  return code ? *code : failed(code.error());
}

int psCommand(const GlobalOptions& global, const Arguments& args) {
  auto parsed = parseFor("ps", args, {{{"--format", "-f"}, true}}, 1, 1);
  if (!parsed) return failed(parsed.error());
  std::string format = parsed->value("--format", "table");
  if (format != "table" && format != "json") {
    return failed(Error("invalid format option \"" + format + "\": use table or json"));
  }
  auto pids = runtimeFor(global).processes(parsed->positional.front());
  if (!pids) return failed(pids.error());
  if (format == "json") {
    std::cout << nlohmann::json(*pids).dump() << "\n";
    return 0;
  }
  std::cout << "PID\n";
  for (pid_t pid : *pids) std::cout << pid << "\n";
  return 0;
}

int listCommand(const GlobalOptions& global, const Arguments& args) {
  auto parsed =
      parseFor("list", args, {{{"--format", "-f"}, true}, {{"--quiet", "-q"}, false}}, 0, 0);
  if (!parsed) return failed(parsed.error());
  BundleRuntime runtime = runtimeFor(global);
  auto ids = runtime.list();
  if (!ids) return failed(ids.error());
  nlohmann::json all = nlohmann::json::array();
  for (const std::string& id : *ids) {
    if (auto state = runtime.state(id)) all.push_back(*state);
  }
  if (parsed->has("--quiet")) {
    for (const auto& state : all) std::cout << state["id"].get<std::string>() << "\n";
  } else if (parsed->value("--format", "table") == "json") {
    std::cout << all.dump() << "\n";
  } else {
    std::cout << "ID\tPID\tSTATUS\tBUNDLE\tCREATED\n";
    for (const auto& state : all) {
      std::cout << state["id"].get<std::string>() << "\t" << state["pid"] << "\t"
                << state["status"].get<std::string>() << "\t" << state["bundle"].get<std::string>()
                << "\t" << state["created"].get<std::string>() << "\n";
    }
  }
  return 0;
}

int featuresCommand(const GlobalOptions&, const Arguments& args) {
  auto parsed = parseFor("features", args, {}, 0, 0);
  if (!parsed) return failed(parsed.error());
  nlohmann::json features = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.2.0"},
      {"hooks",
       {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      {"mountOptions", {"async",      "atime",     "bind",       "defaults",      "dev",
                        "diratime",   "dirsync",   "exec",       "lazytime",      "loud",
                        "mand",       "noatime",   "nodev",      "nodiratime",    "noexec",
                        "nolazytime", "nomand",    "norelatime", "nostrictatime", "nosuid",
                        "private",    "rbind",     "relatime",   "remount",       "ro",
                        "rprivate",   "rshared",   "rslave",     "runbindable",   "rw",
                        "shared",     "silent",    "slave",      "strictatime",   "suid",
                        "sync",       "unbindable"}},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
        {"seccomp",
         {{"enabled", true},
          {"actions",
           {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}},
          {"operators",
           {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}},
          {"archs", {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"}}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}}}},
  };
  std::cout << features.dump(4) << "\n";
  return 0;
}

int specCommand(const GlobalOptions&, const Arguments& args) {
  auto parsed = parseFor("spec", args, {{{"--bundle", "-b"}, true}, {{"--rootless"}, false}}, 0, 0);
  if (!parsed) return failed(parsed.error());
  std::string path = parsed->value("--bundle", ".") + "/config.json";
  if (pathExists(path)) return failed(Error("File " + path + " exists. Remove it first"));
  auto written = writeFile(path, oci::defaultSpecJson(), 0644);
  return written ? 0 : failed(written.error());
}

int bundleProcessCommand(const GlobalOptions&, const Arguments& args) {
  if (args.size() != 2) return kExitRuntimeError;
  int sync = std::stoi(args[0]);
  int errorPipe = std::stoi(args[1]);
  auto text = container::receiveFramedText(sync);
  if (!text) container::reportChildFailure(errorPipe, kExitRuntimeError, text.error().describe());
  auto config = container::parseBundleProcessConfig(*text);
  if (!config)
    container::reportChildFailure(errorPipe, kExitRuntimeError, config.error().describe());
  container::continueBundleProcess(*config);
}

int vmProcessCommand(const GlobalOptions&, const Arguments& args) {
  if (args.size() != 2) return kExitRuntimeError;
  return runVmProcess(args[0], args[1]);
}

int execProcessCommand(const GlobalOptions&, const Arguments& args) {
  if (args.size() != 2) return kExitRuntimeError;
  int sync = std::stoi(args[0]);
  int errorPipe = std::stoi(args[1]);
  auto text = container::receiveFramedText(sync);
  if (!text) container::reportChildFailure(errorPipe, kExitRuntimeError, text.error().describe());
  auto config = container::parseExecProcessConfig(*text);
  if (!config)
    container::reportChildFailure(errorPipe, kExitRuntimeError, config.error().describe());
  container::continueBundleExecProcess(*config);
}

}  // namespace tandem::oci_cli

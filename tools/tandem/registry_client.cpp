#include "tools/tandem/registry_client.h"

#include <spawn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "common/child_process.h"
#include "common/file.h"
#include "common/image/reference.h"
#include "common/process.h"
#include "common/spawn_file_actions.h"
#include "common/unique_fd.h"

extern char** environ;

namespace tandem::cli {

namespace {

std::string commandLine(const std::string& program, const std::vector<std::string>& args) {
  std::string text = program;
  for (const std::string& arg : args) {
    text += " " + arg;
  }
  return text;
}

}  // namespace

std::string registryClientPath() {
  return companionProgramPath("TANDEM_REGISTRY_CLIENT", "tandem-registry", "registry-client");
}

void addRegistryAccessOptions(boost::program_options::options_description& options) {
  options.add_options()("insecure", boost::program_options::bool_switch(),
                        "plain HTTP (localhost and 127.0.0.0/8 registries fall back to it)")(
      "ca-cert", boost::program_options::value<std::string>(),
      "a CA bundle that signed the registry's certificate")(
      "creds", boost::program_options::value<std::string>(),
      "USER:PASS; default: those in $DOCKER_CONFIG or ~/.docker/config.json");
}

RegistryAccess registryAccessFrom(const boost::program_options::variables_map& vm) {
  RegistryAccess access;
  access.insecure = vm["insecure"].as<bool>();
  if (vm.count("ca-cert")) access.caCert = vm["ca-cert"].as<std::string>();
  if (vm.count("creds")) access.creds = vm["creds"].as<std::string>();
  return access;
}

std::vector<std::string> accessArguments(const RegistryAccess& access) {
  std::vector<std::string> args;
  if (access.insecure) {
    args.emplace_back("--insecure");
  }
  if (!access.caCert.empty()) {
    args.insert(args.end(), {"--ca-cert", access.caCert});
  }
  if (access.creds) {
    args.insert(args.end(), {"--creds", *access.creds});
  }
  return args;
}

Result<nlohmann::json> runRegistryClient(const std::vector<std::string>& args, bool quiet) {
  std::string program = registryClientPath();
  if (::access(program.c_str(), X_OK) != 0) {
    return Error::fromErrno("cannot run " + program +
                            ", the program tandem talks to registries through; install it next "
                            "to tandem or name it in $TANDEM_REGISTRY_CLIENT");
  }
  TANDEM_ASSIGN_OR_RETURN(Pipe output, makePipe());
  // A quiet run's progress goes to a memory file rather than a second pipe, which could fill
  // while tandem waits on the first.
  UniqueFd errors;
  if (quiet) {
    errors = UniqueFd(::memfd_create("tandem-registry-stderr", MFD_CLOEXEC));
    if (!errors) {
      return Error::fromErrno("cannot create a memory file for tandem-registry's messages");
    }
  }
  SpawnFileActions spawn;
  posix_spawn_file_actions_adddup2(spawn.get(), output.write.get(), STDOUT_FILENO);
  if (quiet) {
    posix_spawn_file_actions_adddup2(spawn.get(), errors.get(), STDERR_FILENO);
  }
  std::vector<char*> argv;
  argv.push_back(program.data());
  // After the command, --parent: when tandem is killed, its transfer stops too.
  std::vector<std::string> owned = args;
  owned.insert(owned.begin() + (owned.empty() ? 0 : 1), {"--parent", std::to_string(::getpid())});
  for (std::string& arg : owned) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (int error = ::posix_spawn(&pid, program.c_str(), spawn.get(), nullptr, argv.data(), environ);
      error != 0) {
    return Error::fromErrno("cannot start " + program, error);
  }
  output.write.reset();
  auto text = readFile(output.read.get(), "the output of " + program);
  TANDEM_ASSIGN_OR_RETURN(ExitStatus status, waitForExit(pid));
  if (!text) {
    return std::move(text).error().context(commandLine(program, args));
  }
  if (status.signaled || status.code != 0) {
    if (quiet && ::lseek(errors.get(), 0, SEEK_SET) == 0) {
      if (auto messages = readFile(errors.get(), "tandem-registry's messages"); messages) {
        std::cerr << *messages;
      }
    }
    // Its own message, already on stderr, says why; this line says who.
    return Error("tandem-registry " + (args.empty() ? std::string() : args.front()) + " " +
                 status.describe() + " (" + program + ")");
  }
  auto json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return Error(commandLine(program, args) +
                 " printed no JSON object; is it the tandem-registry that came with this tandem?");
  }
  return json;
}

Status pullAndRegister(const std::string& stateRoot, const PullRequest& request,
                       std::ostream& out) {
  TANDEM_ASSIGN_OR_RETURN(image::Reference reference, image::parseReference(request.reference));
  std::vector<std::string> args = {"pull", "--register", "--store", stateRoot};
  if (request.platform) {
    args.insert(args.end(), {"--platform", *request.platform});
  }
  std::vector<std::string> access = accessArguments(request.access);
  args.insert(args.end(), access.begin(), access.end());
  args.push_back(reference.text());
  if (!request.quiet) {
    out << (reference.tag.empty() ? reference.digest->text() : reference.tag) << ": Pulling from "
        << reference.repository << "\n"
        << std::flush;
  }
  TANDEM_ASSIGN_OR_RETURN(nlohmann::json pulled, runRegistryClient(args, request.quiet));
  std::string text = pulled.value("reference", reference.text());
  if (!request.quiet) {
    bool upToDate = pulled.value("bytesTransferred", std::uint64_t{1}) == 0;
    // docker shows the digest the reference resolved to: the index's, for a multi-platform image.
    std::string digest = pulled.value("manifestDigest", std::string());
    if (auto index = pulled.find("indexDigest"); index != pulled.end() && index->is_string()) {
      digest = index->get<std::string>();
    }
    out << "Digest: " << digest << "\n"
        << "Status: " << (upToDate ? "Image is up to date for " : "Downloaded newer image for ")
        << reference.familiar() << "\n";
  }
  out << text << "\n";
  return okStatus();
}

}  // namespace tandem::cli

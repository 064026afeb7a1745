// How the static tandem binary reaches registries: it runs tandem-registry, the dynamically
// linked program that holds libcurl (see common/registry), lets its progress through on stderr
// and reads the one JSON object it prints. `tandem pull`, `tandem push` and `tandem run --pull`
// all come through here.
#pragma once

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/result.h"

namespace tandem::cli {

// $TANDEM_REGISTRY_CLIENT, else tandem-registry next to tandem (installed), else in the build
// tree's registry-client folder beside tandem's.
std::string registryClientPath();

// Options both directions share, as the user gave them.
struct RegistryAccess {
  bool insecure = false;
  std::string caCert;
  std::optional<std::string> creds;  // USER:PASS
};

// --insecure, --ca-cert and --creds, for every verb that may reach a registry, and what the
// user gave of them.
void addRegistryAccessOptions(boost::program_options::options_description& options);
RegistryAccess registryAccessFrom(const boost::program_options::variables_map& vm);

// The arguments that pass `access` on to tandem-registry.
std::vector<std::string> accessArguments(const RegistryAccess& access);

// Runs `tandem-registry ARGS...`. Its stderr is tandem's, unless `quiet`: then it is kept and
// shown only if the run fails. A failure's error names the command; the program has already
// said why on stderr.
Result<nlohmann::json> runRegistryClient(const std::vector<std::string>& args, bool quiet);

struct PullRequest {
  std::string reference;
  std::optional<std::string> platform;
  RegistryAccess access;
  bool quiet = false;
};

// Pulls into the store under `stateRoot` and registers the image, then writes docker's summary
// to `out` ("Digest: ...", "Status: ...", the reference), or with `quiet` the reference alone.
Status pullAndRegister(const std::string& stateRoot, const PullRequest& request, std::ostream& out);

}  // namespace tandem::cli

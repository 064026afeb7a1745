// Registry credentials: from --creds USER:PASS, or from the "auths" of docker's config.json
// (what `docker login` and `skopeo login --authfile` write), so a user logged in with docker
// can pull with tandem.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tandem::registry {

struct Credentials {
  std::string username;
  std::string password;
};

// "user:pass"; the password may contain ':'.
Result<Credentials> parseCredentials(std::string_view userColonPass);

// The credentials config.json's "auths" holds for `registry` (host[:port] as in a reference).
// Entries are matched by host, with or without a scheme and path, as docker writes them
// ("https://index.docker.io/v1/" for Docker Hub). `source` names the file in errors.
Result<std::optional<Credentials>> credentialsFromDockerConfig(std::string_view json,
                                                               std::string_view registry,
                                                               std::string_view source);

// $DOCKER_CONFIG/config.json, else $HOME/.docker/config.json; empty when neither is set.
std::string dockerConfigPath();

// Looks `registry` up in dockerConfigPath(); a missing file means no credentials.
Result<std::optional<Credentials>> lookupCredentials(std::string_view registry);

std::string base64Encode(std::string_view bytes);
Result<std::string> base64Decode(std::string_view text);

}  // namespace tandem::registry

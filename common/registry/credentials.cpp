#include "common/registry/credentials.h"

#include <stdlib.h>

#include <array>
#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/image/reference.h"

namespace tandem::registry {

namespace {

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// "https://index.docker.io/v1/" -> "index.docker.io"
std::string_view keyHost(std::string_view key) {
  if (auto scheme = key.find("://"); scheme != std::string_view::npos) {
    key.remove_prefix(scheme + 3);
  }
  return key.substr(0, key.find('/'));
}

bool matchesRegistry(std::string_view key, std::string_view registry) {
  std::string_view host = keyHost(key);
  if (registry == image::kDefaultRegistry) {
    return host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io";
  }
  return host == registry;
}

}  // namespace

Result<Credentials> parseCredentials(std::string_view userColonPass) {
  auto colon = userColonPass.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Error("credentials must be given as USER:PASSWORD");
  }
  return Credentials{std::string(userColonPass.substr(0, colon)),
                     std::string(userColonPass.substr(colon + 1))};
}

Result<std::optional<Credentials>> credentialsFromDockerConfig(std::string_view json,
                                                               std::string_view registry,
                                                               std::string_view source) {
  auto config = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    return Error(std::string(source) + " is not a JSON object; fix or remove it");
  }
  auto auths = config.find("auths");
  if (auths == config.end() || !auths->is_object()) {
    return std::optional<Credentials>();
  }
  for (const auto& [key, entry] : auths->items()) {
    if (!matchesRegistry(key, registry) || !entry.is_object()) {
      continue;
    }
    auto where = std::string(source) + ", auths[\"" + key + "\"]";
    if (auto auth = entry.find("auth"); auth != entry.end() && auth->is_string()) {
      TANDEM_ASSIGN_OR_RETURN(std::string decoded,
                              base64Decode(auth->get<std::string>()).context(where));
      TANDEM_ASSIGN_OR_RETURN(Credentials credentials,
                              parseCredentials(decoded).context(where + ": auth"));
      return std::optional<Credentials>(std::move(credentials));
    }
    auto user = entry.find("username");
    auto password = entry.find("password");
    if (user != entry.end() && user->is_string() && password != entry.end() &&
        password->is_string()) {
      return std::optional<Credentials>(
          Credentials{user->get<std::string>(), password->get<std::string>()});
    }
  }
  return std::optional<Credentials>();
}

std::string dockerConfigPath() {
  if (const char* dir = ::getenv("DOCKER_CONFIG"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/config.json";
  }
  if (const char* home = ::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/.docker/config.json";
  }
  return "";
}

Result<std::optional<Credentials>> lookupCredentials(std::string_view registry) {
  std::string path = dockerConfigPath();
  if (path.empty() || !pathExists(path)) {
    return std::optional<Credentials>();
  }
  TANDEM_ASSIGN_OR_RETURN(std::string text, readFile(path));
  return credentialsFromDockerConfig(text, registry, path);
}

std::string base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t group = static_cast<std::uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) {
      group |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
    }
    if (i + 2 < bytes.size()) {
      group |= static_cast<std::uint8_t>(bytes[i + 2]);
    }
    out += kBase64Alphabet[(group >> 18) & 63];
    out += kBase64Alphabet[(group >> 12) & 63];
    out += i + 1 < bytes.size() ? kBase64Alphabet[(group >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kBase64Alphabet[group & 63] : '=';
  }
  return out;
}

Result<std::string> base64Decode(std::string_view text) {
  std::string out;
  std::uint32_t group = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=' || c == '\n' || c == '\r') {
      continue;
    }
    auto value = kBase64Alphabet.find(c);
    if (value == std::string_view::npos) {
      return Error("the value is not valid base64");
    }
    group = (group << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((group >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace tandem::registry

// How tandem-registry reaches a registry, the same for a pull and a push: the scheme, TLS
// trust, credentials and how many blobs move at once.
#pragma once

#include <cstddef>
#include <optional>

#include "common/registry/credentials.h"
#include "common/registry/http_request.h"

namespace tandem::registry {

inline constexpr std::size_t kDefaultTransferJobs = 3;

struct RegistryAccess {
  bool insecure = false;  // plain HTTP even for a registry that is not loopback
  TlsOptions tls;
  std::optional<Credentials> credentials;
  std::size_t jobs = kDefaultTransferJobs;
};

}  // namespace tandem::registry

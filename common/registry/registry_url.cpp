#include "common/registry/registry_url.h"

#include <arpa/inet.h>

#include "common/image/reference.h"

namespace tandem::registry {

namespace {

std::string_view hostWithoutPort(std::string_view hostPort) {
  if (hostPort.starts_with('[')) {
    auto close = hostPort.find(']');
    return close == std::string_view::npos ? hostPort : hostPort.substr(0, close + 1);
  }
  return hostPort.substr(0, hostPort.find(':'));
}

}  // namespace

bool isLoopbackRegistry(std::string_view hostPort) {
  std::string_view host = hostWithoutPort(hostPort);
  if (host == "localhost" || host == "[::1]") {
    return true;
  }
  in_addr address{};
  if (::inet_pton(AF_INET, std::string(host).c_str(), &address) != 1) {
    return false;
  }
  return (ntohl(address.s_addr) >> 24) == 127;
}

RegistryEndpoint registryEndpoint(std::string_view registry, bool insecure) {
  std::string host =
      registry == image::kDefaultRegistry ? std::string(kDockerHubHost) : std::string(registry);
  if (insecure) {
    return RegistryEndpoint{"http", std::move(host), false};
  }
  bool loopback = isLoopbackRegistry(host);
  return RegistryEndpoint{"https", std::move(host), loopback};
}

std::string manifestUrl(const RegistryEndpoint& endpoint, std::string_view repository,
                        std::string_view reference) {
  return endpoint.baseUrl() + "/v2/" + std::string(repository) + "/manifests/" +
         std::string(reference);
}

std::string blobUrl(const RegistryEndpoint& endpoint, std::string_view repository,
                    const image::Digest& digest) {
  return endpoint.baseUrl() + "/v2/" + std::string(repository) + "/blobs/" + digest.text();
}

}  // namespace tandem::registry

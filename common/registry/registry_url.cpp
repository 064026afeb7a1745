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

std::string uploadStartUrl(const RegistryEndpoint& endpoint, std::string_view repository) {
  return endpoint.baseUrl() + "/v2/" + std::string(repository) + "/blobs/uploads/";
}

std::string mountUrl(const RegistryEndpoint& endpoint, std::string_view repository,
                     const image::Digest& digest, std::string_view fromRepository) {
  // A digest's colon and a repository's slashes are legal in a query (RFC 3986 section 3.4).
  return uploadStartUrl(endpoint, repository) + "?mount=" + digest.text() +
         "&from=" + std::string(fromRepository);
}

std::string resolveLocation(std::string_view requestUrl, std::string_view location) {
  if (location.find("://") != std::string_view::npos) {
    return std::string(location);
  }
  std::size_t schemeEnd = requestUrl.find("://");
  if (schemeEnd == std::string_view::npos) {
    return std::string(location);
  }
  if (location.starts_with("//")) {
    return std::string(requestUrl.substr(0, schemeEnd + 1)) + std::string(location);
  }
  std::size_t pathStart = requestUrl.find('/', schemeEnd + 3);
  std::string_view origin = requestUrl.substr(0, pathStart);
  if (location.starts_with('/')) {
    return std::string(origin) + std::string(location);
  }
  std::string_view path = pathStart == std::string_view::npos ? "/" : requestUrl.substr(pathStart);
  path = path.substr(0, path.find_first_of("?#"));
  return std::string(origin) + std::string(path.substr(0, path.rfind('/') + 1)) +
         std::string(location);
}

std::string uploadCompleteUrl(std::string_view uploadLocation, const image::Digest& digest) {
  std::string url(uploadLocation.substr(0, uploadLocation.find('#')));
  char separator = url.find('?') == std::string::npos ? '?' : '&';
  if (url.back() == '?' || url.back() == '&') {
    separator = '\0';
  }
  std::string query = "digest=" + digest.text();
  return separator == '\0' ? url + query : url + separator + query;
}

}  // namespace tandem::registry

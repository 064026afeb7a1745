// Where a registry's distribution API lives (OCI distribution spec, "API"): the scheme and host to
// talk to for a reference's registry, and the manifest and blob URLs under /v2/.
#pragma once

#include <string>
#include <string_view>

#include "common/image/digest.h"

namespace tandem::registry {

struct RegistryEndpoint {
  std::string scheme;  // "https", or "http" when told the registry is insecure
  std::string host;    // host[:port] as it goes in a URL
  // A loopback registry is tried over https first and, if what answers does not speak TLS,
  // over plain http, as docker does for registries it treats as insecure: a local registry
  // serving TLS (with --ca-cert) keeps working, and nothing off the machine can downgrade it.
  bool plainHttpFallback = false;

  std::string baseUrl() const { return scheme + "://" + host; }
};

// Docker Hub's name, docker.io, is served by registry-1.docker.io.
inline constexpr std::string_view kDockerHubHost = "registry-1.docker.io";

// Whether host[:port] is localhost, 127.0.0.0/8 or [::1]: docker treats those registries as
// insecure without being told, since nothing off the machine can intercept them.
bool isLoopbackRegistry(std::string_view hostPort);

// https, or http when `insecure`; a loopback registry may fall back to http.
RegistryEndpoint registryEndpoint(std::string_view registry, bool insecure);

// /v2/<repository>/manifests/<tag or digest>
std::string manifestUrl(const RegistryEndpoint& endpoint, std::string_view repository,
                        std::string_view reference);
// /v2/<repository>/blobs/<digest>
std::string blobUrl(const RegistryEndpoint& endpoint, std::string_view repository,
                    const image::Digest& digest);

// POST here opens a blob upload (distribution spec, "Pushing blobs"):
// /v2/<repository>/blobs/uploads/
std::string uploadStartUrl(const RegistryEndpoint& endpoint, std::string_view repository);
// POST here asks the registry to link a blob it holds in `fromRepository` instead ("Mounting a
// blob from another repository"): 201 when it did, 202 with an ordinary upload when it did not.
std::string mountUrl(const RegistryEndpoint& endpoint, std::string_view repository,
                     const image::Digest& digest, std::string_view fromRepository);

// The URL a Location header names, resolved against the request that got it (RFC 3986 section
// 5.2 for the forms registries send: absolute, scheme-relative, absolute path, relative path).
std::string resolveLocation(std::string_view requestUrl, std::string_view location);

// The upload's closing PUT: its location with digest=<digest> added to whatever query it has.
std::string uploadCompleteUrl(std::string_view uploadLocation, const image::Digest& digest);

}  // namespace tandem::registry

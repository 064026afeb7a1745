// The OCI image format's documents, and Docker's schema 2 equivalents, as tandem reads and writes
// them: descriptors, manifests, indexes (manifest lists) and image configs. Parsing takes
// untrusted bytes (a registry's answer, an archive's file) and checks every field it uses, so a
// malformed or hostile document is an error naming the field, never a crash.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/image/digest.h"
#include "common/result.h"

namespace tandem::image {

namespace media_type {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
}  // namespace media_type

// Index entry annotations that name an image: the OCI one (often a bare tag, as skopeo and umoci
// write it) and containerd's, always a whole reference.
namespace annotation {
inline constexpr std::string_view kRefName = "org.opencontainers.image.ref.name";
inline constexpr std::string_view kContainerdName = "io.containerd.image.name";
}  // namespace annotation

// A document bigger than this is refused before it is parsed: the distribution spec lets
// registries refuse manifests over 4 MiB, and configs of real images are a few KiB.
inline constexpr std::size_t kMaxDocumentBytes = 4 << 20;
// overlayfs stacks at most 500 lower layers; no real image comes near.
inline constexpr std::size_t kMaxLayers = 500;

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // GOARCH names: "amd64", "arm64"
  std::string variant;       // "v8", or empty

  std::string text() const;  // "linux/amd64" or "linux/arm64/v8"
};

// The platform this machine runs, in GOARCH terms.
Platform hostPlatform();
// "linux/amd64", "linux/arm64/v8" as docker's --platform takes it.
Result<Platform> parsePlatform(std::string_view text);
// Whether an image made for `actual` serves `wanted`: the same OS and architecture, and the same
// variant when both name one.
bool platformMatches(const Platform& actual, const Platform& wanted);

struct Descriptor {
  std::string mediaType;
  Digest digest;
  std::int64_t size = 0;
  std::optional<Platform> platform;  // index entries only
  std::map<std::string, std::string> annotations;
};

struct Manifest {
  std::string mediaType;  // OCI or Docker schema 2
  Descriptor config;
  std::vector<Descriptor> layers;
};

struct Index {
  std::string mediaType;  // OCI index or Docker manifest list
  std::vector<Descriptor> manifests;
};

struct ContainerDefaults {
  std::string user;
  std::vector<std::string> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string workingDir;
  std::vector<std::string> exposedPorts;  // "80/tcp"
  std::map<std::string, std::string> labels;
  std::string stopSignal;
};

struct ImageConfig {
  Platform platform;
  std::string created;
  ContainerDefaults defaults;
  std::vector<Digest> diffIds;  // the uncompressed layers' digests, in order
};

enum class DocumentKind { kManifest, kIndex };

// What a manifest-or-index document is: by its mediaType field, else by the media type it was
// served or stored with, else by its shape (a "manifests" array or a "config" object).
Result<DocumentKind> documentKind(std::string_view bytes, std::string_view declaredMediaType);

Result<Manifest> parseManifest(std::string_view bytes);
Result<Index> parseIndex(std::string_view bytes);
Result<ImageConfig> parseImageConfig(std::string_view bytes);

// The index entry for `platform`: an exact os/architecture match, preferring an equal variant
// (or, without one wanted, the entry without a variant). Attestation manifests
// (platform unknown/unknown) are never chosen. The error lists the platforms on offer.
Result<Descriptor> choosePlatform(const Index& index, const Platform& platform);

// Whether tandem can unpack a layer of this media type (tar, gzip or zstd; OCI or Docker).
bool isSupportedLayerType(std::string_view mediaType);

std::string serializeManifest(const Manifest& manifest);
std::string serializeIndex(const Index& index);
std::string serializeImageConfig(const ImageConfig& config);

}  // namespace tandem::image

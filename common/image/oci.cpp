#include "common/image/oci.h"

#include <sys/utsname.h>

#include <nlohmann/json.hpp>

namespace tandem::image {

namespace {

using nlohmann::json;

// Reading an untrusted document: every accessor checks the type and names the field in its
// error, since nlohmann's own messages do not say which field was wrong.
class Reader {
 public:
  Reader(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  Error error(std::string_view key, std::string_view what) const {
    return Error(where_ + ": \"" + std::string(key) + "\" " + std::string(what));
  }

  bool has(std::string_view key) const {
    auto it = object_.find(key);
    return it != object_.end() && !it->is_null();
  }

  Result<std::string> string(std::string_view key, bool required) const {
    if (!has(key)) {
      if (required) {
        return error(key, "is missing");
      }
      return std::string();
    }
    const auto& value = object_.at(key);
    if (!value.is_string()) {
      return error(key, "is not a string");
    }
    return value.get<std::string>();
  }

  Result<std::vector<std::string>> strings(std::string_view key) const {
    std::vector<std::string> out;
    if (!has(key)) {
      return out;
    }
    const auto& value = object_.at(key);
    if (!value.is_array()) {
      return error(key, "is not an array of strings");
    }
    for (const auto& item : value) {
      if (!item.is_string()) {
        return error(key, "holds something other than strings");
      }
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  Result<std::map<std::string, std::string>> stringMap(std::string_view key) const {
    std::map<std::string, std::string> out;
    if (!has(key)) {
      return out;
    }
    const auto& value = object_.at(key);
    if (!value.is_object()) {
      return error(key, "is not an object");
    }
    for (const auto& [name, item] : value.items()) {
      if (!item.is_string()) {
        return error(key, "has a value that is not a string at \"" + name + "\"");
      }
      out.emplace(name, item.get<std::string>());
    }
    return out;
  }

  // The keys of an object whose values are ignored, as ExposedPorts' {"80/tcp": {}}.
  Result<std::vector<std::string>> keys(std::string_view key) const {
    std::vector<std::string> out;
    if (!has(key)) {
      return out;
    }
    const auto& value = object_.at(key);
    if (!value.is_object()) {
      return error(key, "is not an object");
    }
    for (const auto& item : value.items()) {
      out.push_back(item.key());
    }
    return out;
  }

  Result<const json*> object(std::string_view key, bool required) const {
    if (!has(key)) {
      if (required) {
        return error(key, "is missing");
      }
      return static_cast<const json*>(nullptr);
    }
    const auto& value = object_.at(key);
    if (!value.is_object()) {
      return error(key, "is not an object");
    }
    return &value;
  }

  Result<const json*> array(std::string_view key, bool required) const {
    if (!has(key)) {
      if (required) {
        return error(key, "is missing");
      }
      return static_cast<const json*>(nullptr);
    }
    const auto& value = object_.at(key);
    if (!value.is_array()) {
      return error(key, "is not an array");
    }
    return &value;
  }

  const std::string& where() const { return where_; }

 private:
  const json& object_;
  std::string where_;
};

Result<json> parseDocument(std::string_view bytes, std::string_view what) {
  if (bytes.size() > kMaxDocumentBytes) {
    return Error(std::string(what) + " is " + std::to_string(bytes.size()) +
                 " bytes; tandem refuses documents over 4 MiB");
  }
  json document = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return Error(std::string(what) + " is not valid JSON");
  }
  if (!document.is_object()) {
    return Error(std::string(what) + " is not a JSON object");
  }
  return document;
}

Result<Platform> platformFrom(const json& object, const std::string& where) {
  Reader reader(object, where);
  Platform platform;
  TANDEM_ASSIGN_OR_RETURN(platform.os, reader.string("os", true));
  TANDEM_ASSIGN_OR_RETURN(platform.architecture, reader.string("architecture", true));
  TANDEM_ASSIGN_OR_RETURN(platform.variant, reader.string("variant", false));
  return platform;
}

Result<Descriptor> descriptorFrom(const json& object, const std::string& where) {
  if (!object.is_object()) {
    return Error(where + " is not an object");
  }
  Reader reader(object, where);
  Descriptor descriptor;
  TANDEM_ASSIGN_OR_RETURN(descriptor.mediaType, reader.string("mediaType", true));
  TANDEM_ASSIGN_OR_RETURN(std::string digest, reader.string("digest", true));
  auto parsed = Digest::parse(digest);
  if (!parsed) {
    return Error(where + ": " + parsed.error().message());
  }
  descriptor.digest = *parsed;
  auto size = object.find("size");
  if (size == object.end() || !size->is_number_integer() || size->get<std::int64_t>() < 0) {
    return reader.error("size", "is missing or not a non-negative integer");
  }
  descriptor.size = size->get<std::int64_t>();
  TANDEM_ASSIGN_OR_RETURN(const json* platform, reader.object("platform", false));
  if (platform != nullptr) {
    TANDEM_ASSIGN_OR_RETURN(descriptor.platform, platformFrom(*platform, where + ".platform"));
  }
  TANDEM_ASSIGN_OR_RETURN(descriptor.annotations, reader.stringMap("annotations"));
  return descriptor;
}

Result<std::vector<Descriptor>> descriptorsFrom(const json& array, const std::string& where) {
  std::vector<Descriptor> out;
  for (std::size_t i = 0; i < array.size(); ++i) {
    TANDEM_ASSIGN_OR_RETURN(Descriptor d,
                            descriptorFrom(array[i], where + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(d));
  }
  return out;
}

Status checkSchemaVersion(const json& document, std::string_view what) {
  auto version = document.find("schemaVersion");
  if (version == document.end() || !version->is_number_integer() || version->get<int>() != 2) {
    return Error(std::string(what) +
                 ": schemaVersion is not 2; only OCI and Docker schema 2 documents are supported "
                 "(Docker schema 1 was removed from registries in 2019)");
  }
  return {};
}

json descriptorToJson(const Descriptor& d) {
  json out = {{"mediaType", d.mediaType}, {"digest", d.digest.text()}, {"size", d.size}};
  if (d.platform) {
    out["platform"] = {{"os", d.platform->os}, {"architecture", d.platform->architecture}};
    if (!d.platform->variant.empty()) {
      out["platform"]["variant"] = d.platform->variant;
    }
  }
  if (!d.annotations.empty()) {
    out["annotations"] = d.annotations;
  }
  return out;
}

bool isIndexType(std::string_view type) {
  return type == media_type::kOciIndex || type == media_type::kDockerManifestList;
}

bool isManifestType(std::string_view type) {
  return type == media_type::kOciManifest || type == media_type::kDockerManifest;
}

}  // namespace

std::string Platform::text() const {
  std::string out = os + "/" + architecture;
  if (!variant.empty()) {
    out += "/" + variant;
  }
  return out;
}

Platform hostPlatform() {
  struct utsname name {};
  ::uname(&name);
  std::string_view machine = name.machine;
  Platform platform{"linux", std::string(machine), ""};
  if (machine == "x86_64") {
    platform.architecture = "amd64";
  } else if (machine == "aarch64") {
    platform.architecture = "arm64";
    platform.variant = "v8";
  } else if (machine == "i686" || machine == "i386") {
    platform.architecture = "386";
  } else if (machine.starts_with("armv7")) {
    platform.architecture = "arm";
    platform.variant = "v7";
  }
  return platform;
}

Result<Platform> parsePlatform(std::string_view text) {
  Platform platform;
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) {
    return Error("platform \"" + std::string(text) + "\": expected OS/ARCH[/VARIANT]");
  }
  platform.os = std::string(text.substr(0, slash));
  auto rest = text.substr(slash + 1);
  auto second = rest.find('/');
  platform.architecture = std::string(rest.substr(0, second));
  if (second != std::string_view::npos) {
    platform.variant = std::string(rest.substr(second + 1));
    if (platform.variant.empty() || platform.variant.find('/') != std::string::npos) {
      return Error("platform \"" + std::string(text) + "\": expected OS/ARCH[/VARIANT]");
    }
  }
  if (platform.architecture.empty()) {
    return Error("platform \"" + std::string(text) + "\": expected OS/ARCH[/VARIANT]");
  }
  return platform;
}

Result<DocumentKind> documentKind(std::string_view bytes, std::string_view declaredMediaType) {
  TANDEM_ASSIGN_OR_RETURN(json document, parseDocument(bytes, "manifest"));
  std::string type;
  if (auto it = document.find("mediaType"); it != document.end() && it->is_string()) {
    type = it->get<std::string>();
  }
  if (type.empty()) {
    type = std::string(declaredMediaType);
  }
  if (isIndexType(type)) {
    return DocumentKind::kIndex;
  }
  if (isManifestType(type)) {
    return DocumentKind::kManifest;
  }
  if (!type.empty()) {
    return Error("manifest has media type \"" + type +
                 "\", which is neither an OCI/Docker image manifest nor an index");
  }
  if (document.contains("manifests")) {
    return DocumentKind::kIndex;
  }
  if (document.contains("config")) {
    return DocumentKind::kManifest;
  }
  return Error(
      "manifest is neither an image manifest (no \"config\") nor an index "
      "(no \"manifests\")");
}

Result<Manifest> parseManifest(std::string_view bytes) {
  TANDEM_ASSIGN_OR_RETURN(json document, parseDocument(bytes, "image manifest"));
  TANDEM_TRY(checkSchemaVersion(document, "image manifest"));
  Reader reader(document, "image manifest");
  Manifest manifest;
  TANDEM_ASSIGN_OR_RETURN(manifest.mediaType, reader.string("mediaType", false));
  if (manifest.mediaType.empty()) {
    manifest.mediaType = std::string(media_type::kOciManifest);
  } else if (!isManifestType(manifest.mediaType)) {
    return Error("image manifest: mediaType \"" + manifest.mediaType +
                 "\" is not an image manifest");
  }
  TANDEM_ASSIGN_OR_RETURN(const json* config, reader.object("config", true));
  TANDEM_ASSIGN_OR_RETURN(manifest.config, descriptorFrom(*config, "image manifest: config"));
  TANDEM_ASSIGN_OR_RETURN(const json* layers, reader.array("layers", true));
  if (layers->size() > kMaxLayers) {
    return Error("image manifest lists " + std::to_string(layers->size()) +
                 " layers; overlayfs stacks at most " + std::to_string(kMaxLayers));
  }
  TANDEM_ASSIGN_OR_RETURN(manifest.layers, descriptorsFrom(*layers, "image manifest: layers"));
  return manifest;
}

Result<Index> parseIndex(std::string_view bytes) {
  TANDEM_ASSIGN_OR_RETURN(json document, parseDocument(bytes, "image index"));
  TANDEM_TRY(checkSchemaVersion(document, "image index"));
  Reader reader(document, "image index");
  Index index;
  TANDEM_ASSIGN_OR_RETURN(index.mediaType, reader.string("mediaType", false));
  if (index.mediaType.empty()) {
    index.mediaType = std::string(media_type::kOciIndex);
  } else if (!isIndexType(index.mediaType)) {
    return Error("image index: mediaType \"" + index.mediaType + "\" is not an index");
  }
  TANDEM_ASSIGN_OR_RETURN(const json* manifests, reader.array("manifests", true));
  TANDEM_ASSIGN_OR_RETURN(index.manifests, descriptorsFrom(*manifests, "image index: manifests"));
  return index;
}

Result<ImageConfig> parseImageConfig(std::string_view bytes) {
  TANDEM_ASSIGN_OR_RETURN(json document, parseDocument(bytes, "image config"));
  Reader reader(document, "image config");
  ImageConfig config;
  TANDEM_ASSIGN_OR_RETURN(config.platform.os, reader.string("os", true));
  TANDEM_ASSIGN_OR_RETURN(config.platform.architecture, reader.string("architecture", true));
  TANDEM_ASSIGN_OR_RETURN(config.platform.variant, reader.string("variant", false));
  TANDEM_ASSIGN_OR_RETURN(config.created, reader.string("created", false));
  TANDEM_ASSIGN_OR_RETURN(const json* defaults, reader.object("config", false));
  if (defaults != nullptr) {
    Reader inner(*defaults, "image config: config");
    auto& d = config.defaults;
    TANDEM_ASSIGN_OR_RETURN(d.user, inner.string("User", false));
    TANDEM_ASSIGN_OR_RETURN(d.env, inner.strings("Env"));
    TANDEM_ASSIGN_OR_RETURN(d.entrypoint, inner.strings("Entrypoint"));
    TANDEM_ASSIGN_OR_RETURN(d.cmd, inner.strings("Cmd"));
    TANDEM_ASSIGN_OR_RETURN(d.workingDir, inner.string("WorkingDir", false));
    TANDEM_ASSIGN_OR_RETURN(d.exposedPorts, inner.keys("ExposedPorts"));
    TANDEM_ASSIGN_OR_RETURN(d.labels, inner.stringMap("Labels"));
    TANDEM_ASSIGN_OR_RETURN(d.stopSignal, inner.string("StopSignal", false));
  }
  TANDEM_ASSIGN_OR_RETURN(const json* rootfs, reader.object("rootfs", true));
  Reader layers(*rootfs, "image config: rootfs");
  TANDEM_ASSIGN_OR_RETURN(std::string type, layers.string("type", true));
  if (type != "layers") {
    return Error("image config: rootfs.type is \"" + type + "\"; the spec allows only \"layers\"");
  }
  TANDEM_ASSIGN_OR_RETURN(std::vector<std::string> diffIds, layers.strings("diff_ids"));
  if (diffIds.size() > kMaxLayers) {
    return Error("image config lists " + std::to_string(diffIds.size()) + " layers; at most " +
                 std::to_string(kMaxLayers) + " are supported");
  }
  for (const auto& text : diffIds) {
    auto digest = Digest::parse(text);
    if (!digest) {
      return Error("image config: rootfs.diff_ids: " + digest.error().message());
    }
    config.diffIds.push_back(*digest);
  }
  return config;
}

bool platformMatches(const Platform& actual, const Platform& wanted) {
  return actual.os == wanted.os && actual.architecture == wanted.architecture &&
         (actual.variant.empty() || wanted.variant.empty() || actual.variant == wanted.variant);
}

Result<Descriptor> choosePlatform(const Index& index, const Platform& platform) {
  const Descriptor* withoutVariant = nullptr;
  const Descriptor* anyVariant = nullptr;
  std::string offered;
  for (const auto& entry : index.manifests) {
    if (!entry.platform || !isManifestType(entry.mediaType)) {
      continue;
    }
    const Platform& p = *entry.platform;
    if (p.os == "unknown") {
      continue;  // attestations and signatures ride in indexes as unknown/unknown
    }
    offered += (offered.empty() ? "" : ", ") + p.text();
    if (p.os != platform.os || p.architecture != platform.architecture) {
      continue;
    }
    if (!platform.variant.empty() && p.variant == platform.variant) {
      return entry;
    }
    if (p.variant.empty() && withoutVariant == nullptr) {
      withoutVariant = &entry;
    }
    if (anyVariant == nullptr) {
      anyVariant = &entry;
    }
  }
  if (withoutVariant != nullptr) {
    return *withoutVariant;
  }
  if (anyVariant != nullptr && platform.variant.empty()) {
    return *anyVariant;
  }
  return Error("the image has no manifest for " + platform.text() + " (it offers: " +
               (offered.empty() ? std::string("none") : offered) + "); choose one with --platform");
}

bool isSupportedLayerType(std::string_view mediaType) {
  return mediaType == media_type::kOciLayer || mediaType == media_type::kOciLayerGzip ||
         mediaType == media_type::kOciLayerZstd || mediaType == media_type::kDockerLayerGzip;
}

std::string serializeManifest(const Manifest& manifest) {
  json layers = json::array();
  for (const auto& layer : manifest.layers) {
    layers.push_back(descriptorToJson(layer));
  }
  json out = {{"schemaVersion", 2},
              {"mediaType", manifest.mediaType},
              {"config", descriptorToJson(manifest.config)},
              {"layers", layers}};
  return out.dump();
}

std::string serializeIndex(const Index& index) {
  json manifests = json::array();
  for (const auto& entry : index.manifests) {
    manifests.push_back(descriptorToJson(entry));
  }
  json out = {{"schemaVersion", 2}, {"mediaType", index.mediaType}, {"manifests", manifests}};
  return out.dump();
}

std::string serializeImageConfig(const ImageConfig& config) {
  const auto& d = config.defaults;
  json defaults = json::object();
  auto putString = [&](const char* key, const std::string& value) {
    if (!value.empty()) {
      defaults[key] = value;
    }
  };
  auto putStrings = [&](const char* key, const std::vector<std::string>& value) {
    if (!value.empty()) {
      defaults[key] = value;
    }
  };
  putString("User", d.user);
  putStrings("Env", d.env);
  putStrings("Entrypoint", d.entrypoint);
  putStrings("Cmd", d.cmd);
  putString("WorkingDir", d.workingDir);
  if (!d.exposedPorts.empty()) {
    json ports = json::object();
    for (const auto& port : d.exposedPorts) {
      ports[port] = json::object();
    }
    defaults["ExposedPorts"] = ports;
  }
  if (!d.labels.empty()) {
    defaults["Labels"] = d.labels;
  }
  putString("StopSignal", d.stopSignal);
  json diffIds = json::array();
  for (const auto& digest : config.diffIds) {
    diffIds.push_back(digest.text());
  }
  json out = {{"architecture", config.platform.architecture},
              {"os", config.platform.os},
              {"config", defaults},
              {"rootfs", {{"type", "layers"}, {"diff_ids", diffIds}}}};
  if (!config.platform.variant.empty()) {
    out["variant"] = config.platform.variant;
  }
  if (!config.created.empty()) {
    out["created"] = config.created;
  }
  return out.dump();
}

}  // namespace tandem::image

#include "common/image/layer_paths.h"

#include <vector>

namespace tandem::image {

namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kAufsMetaPrefix = ".wh..wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

std::vector<std::string_view> componentsOf(std::string_view cleaned) {
  std::vector<std::string_view> parts;
  while (!cleaned.empty()) {
    auto slash = cleaned.find('/');
    parts.push_back(cleaned.substr(0, slash));
    cleaned = slash == std::string_view::npos ? std::string_view() : cleaned.substr(slash + 1);
  }
  return parts;
}

std::string joinedWith(std::string_view parent, std::string_view name) {
  return parent.empty() ? std::string(name) : std::string(parent) + "/" + std::string(name);
}

}  // namespace

Result<std::string> cleanEntryPath(std::string_view raw) {
  if (raw.empty()) {
    return Error("the entry has an empty name");
  }
  if (raw.find('\0') != std::string_view::npos) {
    return Error("the entry's name holds a NUL byte");
  }
  if (raw.front() == '/') {
    return Error("the entry's name is absolute; layer paths are relative to the root");
  }
  std::string_view rest = raw;
  while (rest.starts_with("./")) {
    rest.remove_prefix(2);
  }
  if (rest == ".") {
    rest = {};
  }
  if (rest.ends_with('/')) {
    rest.remove_suffix(1);
  }
  std::string cleaned;
  for (std::string_view part : componentsOf(rest)) {
    if (part.empty()) {
      return Error("the entry's name has an empty component (\"//\")");
    }
    if (part == "." || part == "..") {
      return Error("the entry's name has a \"" + std::string(part) +
                   "\" component; layer paths must not climb out of the root");
    }
    if (!cleaned.empty()) {
      cleaned += '/';
    }
    cleaned += part;
  }
  // "a/" cleaned to "a" is fine, but "a//" would have hidden an empty last component.
  if (rest.ends_with('/')) {
    return Error("the entry's name has an empty component (\"//\")");
  }
  return cleaned;
}

ParentAndName splitParent(std::string_view cleaned) {
  auto slash = cleaned.rfind('/');
  if (slash == std::string_view::npos) {
    return {{}, cleaned};
  }
  return {cleaned.substr(0, slash), cleaned.substr(slash + 1)};
}

Result<Whiteout> classifyWhiteout(std::string_view cleaned) {
  auto parts = componentsOf(cleaned);
  for (std::string_view part : parts) {
    if (part.starts_with(kAufsMetaPrefix) && part != kOpaqueMarker) {
      return Whiteout{WhiteoutKind::AufsMetadata, {}};
    }
  }
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i].starts_with(kWhiteoutPrefix)) {
      return Error("the entry lies inside the whiteout \"" + std::string(parts[i]) +
                   "\"; a whiteout is a marker, not a directory");
    }
  }
  auto [parent, name] = splitParent(cleaned);
  if (name == kOpaqueMarker) {
    return Whiteout{WhiteoutKind::Opaque, std::string(parent)};
  }
  if (!name.starts_with(kWhiteoutPrefix)) {
    return Whiteout{};
  }
  std::string_view hidden = name.substr(kWhiteoutPrefix.size());
  if (hidden.empty() || hidden == "." || hidden == ".." ||
      hidden.find('/') != std::string_view::npos) {
    return Error("the whiteout \"" + std::string(name) + "\" does not name a sibling entry");
  }
  return Whiteout{WhiteoutKind::Remove, joinedWith(parent, hidden)};
}

}  // namespace tandem::image

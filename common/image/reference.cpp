#include "common/image/reference.h"

#include <vector>

#include "common/split.h"

namespace tandem::image {

namespace {

constexpr std::size_t kMaxNameLength = 255;
constexpr std::size_t kMaxTagLength = 128;
constexpr std::string_view kLegacyDefaultRegistry = "index.docker.io";

bool isLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// A path component of the distribution spec: lowercase alphanumerics joined by one '.', one or
// two '_', or any number of '-'.
bool isPathComponent(std::string_view part) {
  if (part.empty() || !isLowerAlnum(part.front()) || !isLowerAlnum(part.back())) {
    return false;
  }
  for (std::size_t i = 0; i < part.size();) {
    if (isLowerAlnum(part[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < part.size() && !isLowerAlnum(part[end])) {
      ++end;
    }
    auto separator = part.substr(i, end - i);
    bool dashes = separator.find_first_not_of('-') == std::string_view::npos;
    if (!(separator == "." || separator == "_" || separator == "__" || dashes)) {
      return false;
    }
    i = end;
  }
  return true;
}

bool isTag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagLength) {
    return false;
  }
  auto word = [](char c) { return isLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!word(tag.front())) {
    return false;
  }
  for (char c : tag) {
    if (!word(c) && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

// A registry host: letters, digits, '.', '-', an optional :port, or a bracketed IPv6 address.
bool isRegistryHost(std::string_view host) {
  if (host.empty()) {
    return false;
  }
  std::string_view name = host;
  if (auto colon = host.rfind(':'); colon != std::string_view::npos && host.back() != ']') {
    auto port = host.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != port.npos) {
      return false;
    }
    name = host.substr(0, colon);
  }
  if (name.starts_with('[')) {
    return name.ends_with(']') && name.size() > 2;
  }
  for (char c : name) {
    bool ok = isLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return !name.empty() && name.front() != '-' && name.back() != '-';
}

}  // namespace

std::string Reference::name() const {
  return registry + "/" + repository;
}

std::string Reference::text() const {
  std::string out = name();
  if (!tag.empty()) {
    out += ":" + tag;
  }
  if (digest) {
    out += "@" + digest->text();
  }
  return out;
}

std::string Reference::familiar() const {
  std::string out;
  if (registry != kDefaultRegistry) {
    out = registry + "/" + repository;
  } else if (repository.starts_with("library/")) {
    out = repository.substr(std::string_view("library/").size());
  } else {
    out = repository;
  }
  if (!tag.empty()) {
    out += ":" + tag;
  }
  if (digest) {
    out += "@" + digest->text();
  }
  return out;
}

Result<Reference> parseReference(std::string_view text) {
  auto fail = [&](std::string_view why) -> Error {
    return Error("invalid image reference \"" + std::string(text) + "\": " + std::string(why));
  };
  if (text.empty()) {
    return fail("it is empty");
  }
  Reference ref;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    auto digest = Digest::parse(rest.substr(at + 1));
    if (!digest) {
      return fail(digest.error().message());
    }
    ref.digest = *digest;
    rest = rest.substr(0, at);
  }
  // A tag is what follows the last ':' after the last '/', so a registry port is not one.
  auto lastSlash = rest.rfind('/');
  auto lastColon = rest.rfind(':');
  if (lastColon != std::string_view::npos &&
      (lastSlash == std::string_view::npos || lastColon > lastSlash)) {
    auto tag = rest.substr(lastColon + 1);
    if (!isTag(tag)) {
      return fail("tag \"" + std::string(tag) +
                  "\" must be 1-128 of [A-Za-z0-9_.-] and not start with '.' or '-'");
    }
    ref.tag = std::string(tag);
    rest = rest.substr(0, lastColon);
  }
  // The first component names a registry only if it looks like a host: docker's rule.
  auto firstSlash = rest.find('/');
  if (firstSlash != std::string_view::npos) {
    auto first = rest.substr(0, firstSlash);
    bool looksLikeHost =
        first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
        first.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos;
    if (looksLikeHost) {
      if (!isRegistryHost(first)) {
        return fail("registry \"" + std::string(first) + "\" is not a host[:port]");
      }
      ref.registry = std::string(first);
      // Docker Hub's old name: docker normalises it, so the same image has one name here too.
      if (ref.registry == kLegacyDefaultRegistry) {
        ref.registry = std::string(kDefaultRegistry);
      }
      rest = rest.substr(firstSlash + 1);
    }
  }
  if (ref.registry.empty()) {
    ref.registry = std::string(kDefaultRegistry);
  }
  if (rest.empty()) {
    return fail("it has no repository name");
  }
  for (auto part : splitFields(rest, '/')) {
    if (!isPathComponent(part)) {
      return fail("name component \"" + std::string(part) +
                  "\" must be lowercase letters and digits, joined by '.', '_', '__' or '-'");
    }
  }
  ref.repository = std::string(rest);
  if (ref.registry == kDefaultRegistry && ref.repository.find('/') == std::string::npos) {
    ref.repository = "library/" + ref.repository;
  }
  if (ref.name().size() > kMaxNameLength) {
    return fail("the name is longer than 255 characters");
  }
  if (ref.tag.empty() && !ref.digest) {
    ref.tag = std::string(kDefaultTag);
  }
  return ref;
}

}  // namespace tandem::image

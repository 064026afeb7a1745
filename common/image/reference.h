// Image references as docker and podman read them: `busybox`, `localhost:5000/app:1.0`,
// `ghcr.io/org/tool@sha256:...`. A bare name means Docker Hub's library namespace and a missing
// tag means "latest", as in docker's normalised form.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/image/digest.h"
#include "common/result.h"

namespace tandem::image {

inline constexpr std::string_view kDefaultRegistry = "docker.io";
inline constexpr std::string_view kDefaultTag = "latest";

struct Reference {
  std::string registry;    // host[:port], e.g. "docker.io" or "localhost:5000"
  std::string repository;  // e.g. "library/busybox"
  std::string tag;         // empty only when a digest pins the reference
  std::optional<Digest> digest;

  // The normalised form: registry/repository[:tag][@digest].
  std::string text() const;
  // registry/repository, the name a tag belongs to.
  std::string name() const;
  // The shortest form a user would type: docker.io and library/ left out.
  std::string familiar() const;
};

// Parses a reference; the error names the text and which part is wrong.
Result<Reference> parseReference(std::string_view text);

}  // namespace tandem::image

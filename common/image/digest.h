// Content digests as the OCI image spec writes them ("sha256:" and 64 lowercase hex digits), and
// a streaming SHA-256 to compute them while bytes go by.
#pragma once

#include <nettle/sha2.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tandem::image {

class Digest {
 public:
  // The digest of no bytes, so that a descriptor can be declared before it is filled in.
  Digest();
  // Accepts only sha256 digests: the one algorithm every registry and tool writes, and the one
  // the store is keyed by. Anything else gets an error naming the text.
  static Result<Digest> parse(std::string_view text);
  static Digest ofBytes(std::span<const std::uint8_t> bytes);
  static Digest ofText(std::string_view text);

  // "sha256:<hex>"
  std::string text() const { return "sha256:" + hex_; }
  // The 64 hex digits alone: the blob's file name in the store.
  const std::string& hex() const { return hex_; }
  // A shortened id for listings, as `docker images` prints one.
  std::string shortId() const { return hex_.substr(0, 12); }

  friend bool operator==(const Digest&, const Digest&) = default;
  friend auto operator<=>(const Digest&, const Digest&) = default;

 private:
  explicit Digest(std::string hex) : hex_(std::move(hex)) {}
  friend class Sha256;
  std::string hex_;
};

class Sha256 {
 public:
  Sha256();
  void update(std::span<const std::uint8_t> bytes);
  void update(std::string_view text);
  // Ends the computation; the object starts over afterwards.
  Digest finish();

 private:
  sha256_ctx context_;
};

}  // namespace tandem::image

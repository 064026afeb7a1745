#include "common/image/digest.h"

#include "common/bytes.h"

namespace tandem::image {

namespace {

constexpr std::string_view kAlgorithmPrefix = "sha256:";
constexpr std::size_t kHexDigits = 2 * SHA256_DIGEST_SIZE;

bool isLowerHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

}  // namespace

Result<Digest> Digest::parse(std::string_view text) {
  if (!text.starts_with(kAlgorithmPrefix)) {
    auto colon = text.find(':');
    if (colon != std::string_view::npos && colon > 0) {
      return Error("digest \"" + std::string(text) + "\" uses algorithm \"" +
                   std::string(text.substr(0, colon)) + "\"; only sha256 is supported");
    }
    return Error("\"" + std::string(text) + "\" is not a digest: expected sha256:<64 hex digits>");
  }
  auto hex = text.substr(kAlgorithmPrefix.size());
  if (hex.size() != kHexDigits) {
    return Error("digest \"" + std::string(text) + "\" has " + std::to_string(hex.size()) +
                 " hex digits; sha256 has 64");
  }
  for (char c : hex) {
    if (!isLowerHex(c)) {
      return Error("digest \"" + std::string(text) +
                   "\" is not lowercase hex; the OCI image spec allows only [a-f0-9]");
    }
  }
  return Digest(std::string(hex));
}

Digest::Digest() : Digest(Sha256().finish()) {}

Digest Digest::ofBytes(std::span<const std::uint8_t> bytes) {
  Sha256 hash;
  hash.update(bytes);
  return hash.finish();
}

Digest Digest::ofText(std::string_view text) {
  return ofBytes(bytesOf(text));
}

Sha256::Sha256() {
  sha256_init(&context_);
}

void Sha256::update(std::span<const std::uint8_t> bytes) {
  sha256_update(&context_, bytes.size(), bytes.data());
}

void Sha256::update(std::string_view text) {
  update(bytesOf(text));
}

Digest Sha256::finish() {
  std::uint8_t sum[SHA256_DIGEST_SIZE];
  sha256_digest(&context_, sizeof sum, sum);  // also re-initialises the context
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(kHexDigits);
  for (std::uint8_t byte : sum) {
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0xf]);
  }
  return Digest(std::move(hex));
}

}  // namespace tandem::image

// Image documents as a registry or an image layout hands them over: manifests, indexes, image
// configs, references and platforms. Whatever parses must serialize to a document that parses
// again to the same shape, since tandem rewrites what it stores.
#include <string>
#include <string_view>

#include "common/image/oci.h"
#include "common/image/reference.h"
#include "tests/fuzz/fuzz_input.h"

using namespace tandem::image;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)documentKind(text, "application/vnd.oci.image.index.v1+json");
  (void)documentKind(text, "");
  if (auto manifest = parseManifest(text)) {
    auto again = parseManifest(serializeManifest(*manifest));
    fuzzCheck(again.ok(), "a serialized manifest parses");
    fuzzCheck(again->layers.size() == manifest->layers.size(), "a manifest keeps its layers");
    for (const auto& layer : manifest->layers) {
      (void)isSupportedLayerType(layer.mediaType);
    }
  }
  if (auto index = parseIndex(text)) {
    auto again = parseIndex(serializeIndex(*index));
    fuzzCheck(again.ok(), "a serialized index parses");
    fuzzCheck(again->manifests.size() == index->manifests.size(), "an index keeps its entries");
    (void)choosePlatform(*index, hostPlatform());
  }
  if (auto config = parseImageConfig(text)) {
    auto again = parseImageConfig(serializeImageConfig(*config));
    fuzzCheck(again.ok(), "a serialized image config parses");
    fuzzCheck(again->diffIds.size() == config->diffIds.size(), "an image config keeps its layers");
  }
  if (auto reference = parseReference(text)) {
    auto again = parseReference(reference->text());
    fuzzCheck(again.ok(), "a reference's text parses");
    fuzzCheck(again->text() == reference->text(), "a reference's text is stable");
  }
  if (auto platform = parsePlatform(text)) {
    auto again = parsePlatform(platform->text());
    fuzzCheck(again.ok() && again->text() == platform->text(), "a platform's text is stable");
    (void)platformMatches(*platform, hostPlatform());
  }
  return 0;
}

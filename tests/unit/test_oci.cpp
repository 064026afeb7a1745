#include <string>

#include "common/image/oci.h"
#include "tests/unit/unit_test.h"

using namespace tandem::image;

namespace {

const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');

std::string manifestJson(const std::string& layers) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
         kDigestA + R"(","size":7},"layers":[)" + layers + "]}";
}

std::string layerJson(const std::string& digest, int size) {
  return R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + digest +
         R"(","size":)" + std::to_string(size) + "}";
}

void assertErrorMentions(const tandem::Error& error, const char* text) {
  if (error.message().find(text) == std::string::npos) {
    fail_msg("error \"%s\" does not mention \"%s\"", error.message().c_str(), text);
  }
}

}  // namespace

static void parses_manifest_field_by_field(void**) {
  auto manifest = parseManifest(manifestJson(layerJson(kDigestB, 42)));
  assert_true(manifest.ok());
  assert_string_equal(manifest->config.digest.text().c_str(), kDigestA.c_str());
  assert_int_equal(manifest->config.size, 7);
  assert_int_equal(manifest->layers.size(), 1);
  assert_string_equal(manifest->layers[0].digest.text().c_str(), kDigestB.c_str());
  assert_int_equal(manifest->layers[0].size, 42);
  assert_true(isSupportedLayerType(manifest->layers[0].mediaType));

  auto again = parseManifest(serializeManifest(*manifest));
  assert_true(again.ok());
  assert_string_equal(again->layers[0].digest.text().c_str(), kDigestB.c_str());
}

static void refuses_malformed_manifests(void**) {
  assertErrorMentions(parseManifest("{").error(), "not valid JSON");
  assertErrorMentions(parseManifest("[]").error(), "not a JSON object");
  assertErrorMentions(parseManifest(R"({"schemaVersion":1})").error(), "schemaVersion");
  assertErrorMentions(parseManifest(manifestJson(layerJson("sha256:abc", 1))).error(),
                      "hex digits");
  assertErrorMentions(parseManifest(manifestJson(layerJson(kDigestB, -1))).error(), "size");
  assertErrorMentions(parseManifest(manifestJson(R"({"mediaType":5})")).error(), "mediaType");
  assertErrorMentions(parseManifest(manifestJson("7")).error(), "layers[0]");
  std::string huge(kMaxDocumentBytes + 1, ' ');
  assertErrorMentions(parseManifest(huge).error(), "4 MiB");
  std::string many;
  for (std::size_t i = 0; i <= kMaxLayers; ++i) {
    many += (i ? "," : "") + layerJson(kDigestB, 1);
  }
  assertErrorMentions(parseManifest(manifestJson(many)).error(), "layers");
}

static void tells_manifests_from_indexes(void**) {
  assert_int_equal(*documentKind(manifestJson(""), ""), static_cast<int>(DocumentKind::kManifest));
  assert_int_equal(*documentKind(R"({"schemaVersion":2,"manifests":[]})", ""),
                   static_cast<int>(DocumentKind::kIndex));
  assert_int_equal(*documentKind(R"({"schemaVersion":2})", media_type::kDockerManifestList),
                   static_cast<int>(DocumentKind::kIndex));
  assertErrorMentions(
      documentKind(R"({"mediaType":"application/vnd.docker.distribution.manifest.v1+json"})", "")
          .error(),
      "neither");
}

static void chooses_the_platform(void**) {
  std::string index = R"({"schemaVersion":2,"manifests":[
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                      kDigestA + R"(","size":1,
     "platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                      kDigestB + R"(","size":1,
     "platform":{"os":"linux","architecture":"amd64"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                      kDigestA + R"(","size":1,
     "platform":{"os":"unknown","architecture":"unknown"}}]})";
  auto parsed = parseIndex(index);
  assert_true(parsed.ok());
  auto amd64 = choosePlatform(*parsed, Platform{"linux", "amd64", ""});
  assert_true(amd64.ok());
  assert_string_equal(amd64->digest.text().c_str(), kDigestB.c_str());
  auto arm64 = choosePlatform(*parsed, *parsePlatform("linux/arm64/v8"));
  assert_true(arm64.ok());
  assert_string_equal(arm64->digest.text().c_str(), kDigestA.c_str());
  auto missing = choosePlatform(*parsed, Platform{"linux", "riscv64", ""});
  assert_false(missing.ok());
  assertErrorMentions(missing.error(), "linux/arm64/v8, linux/amd64");
  assertErrorMentions(missing.error(), "riscv64");
}

static void parses_image_config(void**) {
  std::string text = R"({"architecture":"amd64","os":"linux","created":"2026-01-01T00:00:00Z",
    "config":{"User":"nobody","Env":["PATH=/bin","A=1"],"Entrypoint":["/bin/sh","-c"],
      "Cmd":["echo hi"],"WorkingDir":"/srv","ExposedPorts":{"80/tcp":{}},
      "Labels":{"k":"v"}},
    "rootfs":{"type":"layers","diff_ids":[")" +
                     kDigestB + R"("]}})";
  auto config = parseImageConfig(text);
  assert_true(config.ok());
  assert_string_equal(config->defaults.user.c_str(), "nobody");
  assert_int_equal(config->defaults.env.size(), 2);
  assert_string_equal(config->defaults.entrypoint[1].c_str(), "-c");
  assert_string_equal(config->defaults.cmd[0].c_str(), "echo hi");
  assert_string_equal(config->defaults.workingDir.c_str(), "/srv");
  assert_string_equal(config->defaults.exposedPorts[0].c_str(), "80/tcp");
  assert_string_equal(config->defaults.labels.at("k").c_str(), "v");
  assert_int_equal(config->diffIds.size(), 1);

  auto again = parseImageConfig(serializeImageConfig(*config));
  assert_true(again.ok());
  assert_string_equal(again->defaults.workingDir.c_str(), "/srv");
  assert_string_equal(again->diffIds[0].text().c_str(), kDigestB.c_str());

  assertErrorMentions(parseImageConfig(R"({"architecture":"amd64","os":"linux","config":{"Env":[1]},
        "rootfs":{"type":"layers","diff_ids":[]}})")
                          .error(),
                      "Env");
  assertErrorMentions(parseImageConfig(R"({"architecture":"amd64","os":"linux",
        "rootfs":{"type":"squash","diff_ids":[]}})")
                          .error(),
                      "rootfs.type");
  assertErrorMentions(parseImageConfig(R"({"architecture":"amd64","os":"linux"})").error(),
                      "rootfs");
}

static void parses_platform_text(void**) {
  assert_string_equal(parsePlatform("linux/amd64")->text().c_str(), "linux/amd64");
  assert_string_equal(parsePlatform("linux/arm/v7")->variant.c_str(), "v7");
  assert_false(parsePlatform("linux").ok());
  assert_false(parsePlatform("linux/").ok());
  assert_false(parsePlatform("/amd64").ok());
  assert_false(parsePlatform("linux/arm/v7/x").ok());
  assert_string_equal(hostPlatform().os.c_str(), "linux");
}

static void matches_platforms_as_docker_pull_does(void**) {
  auto platform = [](const char* text) { return *parsePlatform(text); };
  assert_true(platformMatches(platform("linux/amd64"), platform("linux/amd64")));
  assert_false(platformMatches(platform("linux/amd64"), platform("linux/s390x")));
  assert_false(platformMatches(platform("linux/amd64"), platform("windows/amd64")));
  // A variant only refuses when both sides name one.
  assert_true(platformMatches(platform("linux/arm64"), platform("linux/arm64/v8")));
  assert_true(platformMatches(platform("linux/arm64/v8"), platform("linux/arm64")));
  assert_false(platformMatches(platform("linux/arm/v6"), platform("linux/arm/v7")));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(matches_platforms_as_docker_pull_does),
      cmocka_unit_test(parses_manifest_field_by_field),
      cmocka_unit_test(refuses_malformed_manifests),
      cmocka_unit_test(tells_manifests_from_indexes),
      cmocka_unit_test(chooses_the_platform),
      cmocka_unit_test(parses_image_config),
      cmocka_unit_test(parses_platform_text),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

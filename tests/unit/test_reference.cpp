// Image references and digests as docker reads them: the normalised form a short name expands
// to, the familiar form printed back, and the error for each malformed part.
#include <string>

#include "common/image/digest.h"
#include "common/image/reference.h"
#include "tests/unit/unit_test.h"

using tandem::image::Digest;
using tandem::image::parseReference;
using tandem::image::Reference;

namespace {

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

Reference parsed(const std::string& text) {
  auto reference = parseReference(text);
  if (!reference) {
    fail_msg("parseReference(\"%s\"): %s", text.c_str(), reference.error().describe().c_str());
  }
  return *reference;
}

// The error for `text` mentions `why`.
void refused(const std::string& text, const char* why) {
  auto reference = parseReference(text);
  if (reference) {
    fail_msg("parseReference(\"%s\") accepted it as %s", text.c_str(), reference->text().c_str());
  }
  const std::string& message = reference.error().message();
  if (message.find(why) == std::string::npos) {
    fail_msg("parseReference(\"%s\"): \"%s\" does not mention \"%s\"", text.c_str(),
             message.c_str(), why);
  }
}

void bare_name_means_docker_hub_library_latest(void**) {
  auto ref = parsed("busybox");
  assert_string_equal(ref.registry.c_str(), "docker.io");
  assert_string_equal(ref.repository.c_str(), "library/busybox");
  assert_string_equal(ref.tag.c_str(), "latest");
  assert_false(ref.digest.has_value());
  assert_string_equal(ref.text().c_str(), "docker.io/library/busybox:latest");
  assert_string_equal(ref.name().c_str(), "docker.io/library/busybox");
  assert_string_equal(ref.familiar().c_str(), "busybox:latest");

  auto user = parsed("someone/tool:2");
  assert_string_equal(user.text().c_str(), "docker.io/someone/tool:2");
  assert_string_equal(user.familiar().c_str(), "someone/tool:2");
}

void registry_port_is_not_a_tag(void**) {
  auto ref = parsed("localhost:5000/app:1.0");
  assert_string_equal(ref.registry.c_str(), "localhost:5000");
  assert_string_equal(ref.repository.c_str(), "app");
  assert_string_equal(ref.tag.c_str(), "1.0");
  assert_string_equal(ref.text().c_str(), "localhost:5000/app:1.0");
  assert_string_equal(ref.familiar().c_str(), "localhost:5000/app:1.0");

  auto untagged = parsed("localhost:5000/app");
  assert_string_equal(untagged.tag.c_str(), "latest");
  auto plainLocalhost = parsed("localhost/app");
  assert_string_equal(plainLocalhost.registry.c_str(), "localhost");
}

void digest_pins_a_deep_repository(void**) {
  auto ref = parsed("registry.example.com:443/a/b/c@sha256:" + kHex);
  assert_string_equal(ref.registry.c_str(), "registry.example.com:443");
  assert_string_equal(ref.repository.c_str(), "a/b/c");
  assert_string_equal(ref.tag.c_str(), "");
  assert_true(ref.digest.has_value());
  assert_string_equal(ref.digest->hex().c_str(), kHex.c_str());
  assert_string_equal(ref.text().c_str(),
                      ("registry.example.com:443/a/b/c@sha256:" + kHex).c_str());
}

void tag_and_digest_together(void**) {
  auto ref = parsed("name:tag@sha256:" + kHex);
  assert_string_equal(ref.repository.c_str(), "library/name");
  assert_string_equal(ref.tag.c_str(), "tag");
  assert_true(ref.digest.has_value());
  assert_string_equal(ref.text().c_str(), ("docker.io/library/name:tag@sha256:" + kHex).c_str());
  assert_string_equal(ref.familiar().c_str(), ("name:tag@sha256:" + kHex).c_str());
}

void uppercase_first_component_is_a_host(void**) {
  auto ref = parsed("UPPER/x");
  assert_string_equal(ref.registry.c_str(), "UPPER");
  assert_string_equal(ref.repository.c_str(), "x");
  assert_string_equal(ref.familiar().c_str(), "UPPER/x:latest");
}

void legacy_docker_hub_host_is_normalised(void**) {
  auto ref = parsed("index.docker.io/busybox:1");
  assert_string_equal(ref.text().c_str(), "docker.io/library/busybox:1");
  assert_string_equal(ref.familiar().c_str(), "busybox:1");
  auto explicitHub = parsed("docker.io/library/busybox");
  assert_string_equal(explicitHub.text().c_str(), "docker.io/library/busybox:latest");
}

void malformed_references_are_refused(void**) {
  refused("Busybox", "name component \"Busybox\"");
  refused("a//b", "name component \"\"");
  refused("a:", "tag \"\"");
  refused("a@sha256:short", "5 hex digits");
  refused("-a", "name component \"-a\"");
  refused("", "empty");
  refused("a:" + std::string(129, 't'), "1-128");
  refused("a@md5:" + kHex, "algorithm \"md5\"");
  refused("a:.hidden", "tag \".hidden\"");
  refused("a@sha256:" + std::string(64, 'A'), "lowercase hex");
  refused("bad_host:x/app", "registry \"bad_host:x\"");
  refused(std::string(250, 'a'), "longer than 255");
}

void tag_of_128_characters_is_accepted(void**) {
  auto ref = parsed("a:" + std::string(128, 't'));
  assert_int_equal(ref.tag.size(), 128);
}

void digest_of_empty_text(void**) {
  assert_string_equal(Digest::ofText("").text().c_str(),
                      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert_string_equal(Digest::ofText("").shortId().c_str(), "e3b0c44298fc");
  auto parsedDigest = Digest::parse(Digest::ofText("abc").text());
  assert_true(parsedDigest.ok());
  assert_string_equal(parsedDigest->hex().c_str(),
                      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

void sha256_streams_as_one_piece(void**) {
  tandem::image::Sha256 hash;
  hash.update(std::string_view("ab"));
  hash.update(std::string_view("c"));
  assert_true(hash.finish() == Digest::ofText("abc"));
  // finish() starts over.
  assert_true(hash.finish() == Digest::ofText(""));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(bare_name_means_docker_hub_library_latest),
      cmocka_unit_test(registry_port_is_not_a_tag),
      cmocka_unit_test(digest_pins_a_deep_repository),
      cmocka_unit_test(tag_and_digest_together),
      cmocka_unit_test(uppercase_first_component_is_a_host),
      cmocka_unit_test(legacy_docker_hub_host_is_normalised),
      cmocka_unit_test(malformed_references_are_refused),
      cmocka_unit_test(tag_of_128_characters_is_accepted),
      cmocka_unit_test(digest_of_empty_text),
      cmocka_unit_test(sha256_streams_as_one_piece),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

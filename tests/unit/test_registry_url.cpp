#include "common/image/reference.h"
#include "common/registry/registry_url.h"
#include "tests/unit/unit_test.h"

using tandem::image::Digest;
using tandem::image::parseReference;
using tandem::registry::blobUrl;
using tandem::registry::isLoopbackRegistry;
using tandem::registry::manifestUrl;
using tandem::registry::mountUrl;
using tandem::registry::registryEndpoint;
using tandem::registry::resolveLocation;
using tandem::registry::uploadCompleteUrl;
using tandem::registry::uploadStartUrl;

static void docker_hub_maps_to_registry_1(void**) {
  auto reference = parseReference("busybox");
  assert_true(reference.ok());
  auto endpoint = registryEndpoint(reference->registry, false);
  assert_string_equal(endpoint.scheme.c_str(), "https");
  assert_false(endpoint.plainHttpFallback);
  assert_string_equal(manifestUrl(endpoint, reference->repository, reference->tag).c_str(),
                      "https://registry-1.docker.io/v2/library/busybox/manifests/latest");
}

static void keeps_ports_and_paths(void**) {
  auto endpoint = registryEndpoint("registry.example:5000", false);
  Digest digest = Digest::ofText("x");
  assert_string_equal(
      blobUrl(endpoint, "org/team/app", digest).c_str(),
      ("https://registry.example:5000/v2/org/team/app/blobs/" + digest.text()).c_str());
  assert_string_equal(
      manifestUrl(endpoint, "org/app", digest.text()).c_str(),
      ("https://registry.example:5000/v2/org/app/manifests/" + digest.text()).c_str());
}

static void insecure_means_plain_http(void**) {
  auto endpoint = registryEndpoint("registry.example:5000", true);
  assert_string_equal(endpoint.baseUrl().c_str(), "http://registry.example:5000");
  assert_false(endpoint.plainHttpFallback);
}

static void loopback_may_fall_back_to_http(void**) {
  for (const char* host :
       {"localhost:5000", "localhost", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000", "[::1]"}) {
    assert_true(isLoopbackRegistry(host));
    auto endpoint = registryEndpoint(host, false);
    assert_string_equal(endpoint.scheme.c_str(), "https");
    assert_true(endpoint.plainHttpFallback);
  }
  for (const char* host :
       {"128.0.0.1:5000", "localhost.example.com", "example.com:5000", "[::2]:5000", "10.0.0.1"}) {
    assert_false(isLoopbackRegistry(host));
    assert_false(registryEndpoint(host, false).plainHttpFallback);
  }
}

static void builds_upload_and_mount_urls(void**) {
  auto endpoint = registryEndpoint("localhost:5000", true);
  assert_string_equal(uploadStartUrl(endpoint, "test/app").c_str(),
                      "http://localhost:5000/v2/test/app/blobs/uploads/");
  Digest digest = Digest::ofText("x");
  assert_string_equal(mountUrl(endpoint, "test/app", digest, "other/base").c_str(),
                      ("http://localhost:5000/v2/test/app/blobs/uploads/?mount=" + digest.text() +
                       "&from=other/base")
                          .c_str());
}

static void resolves_upload_locations(void**) {
  const char* request = "https://r.example:5000/v2/a/blobs/uploads/";
  // docker/distribution answers with an absolute path; others with a full URL, possibly
  // elsewhere (an upload service).
  assert_string_equal(resolveLocation(request, "/v2/a/blobs/uploads/u1?_state=s").c_str(),
                      "https://r.example:5000/v2/a/blobs/uploads/u1?_state=s");
  assert_string_equal(resolveLocation(request, "https://up.example/u1").c_str(),
                      "https://up.example/u1");
  assert_string_equal(resolveLocation(request, "//up.example/u1").c_str(), "https://up.example/u1");
  assert_string_equal(resolveLocation(request, "u1?x=1").c_str(),
                      "https://r.example:5000/v2/a/blobs/uploads/u1?x=1");
  assert_string_equal(resolveLocation("http://r.example/v2/a/blobs/uploads/?mount=1", "u2").c_str(),
                      "http://r.example/v2/a/blobs/uploads/u2");
  assert_string_equal(resolveLocation("http://r.example", "/u3").c_str(), "http://r.example/u3");
}

static void adds_the_digest_to_the_upload_query(void**) {
  Digest digest = Digest::ofText("x");
  assert_string_equal(uploadCompleteUrl("http://r/v2/a/blobs/uploads/u1", digest).c_str(),
                      ("http://r/v2/a/blobs/uploads/u1?digest=" + digest.text()).c_str());
  assert_string_equal(uploadCompleteUrl("http://r/u1?_state=abc", digest).c_str(),
                      ("http://r/u1?_state=abc&digest=" + digest.text()).c_str());
  assert_string_equal(uploadCompleteUrl("http://r/u1?", digest).c_str(),
                      ("http://r/u1?digest=" + digest.text()).c_str());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(docker_hub_maps_to_registry_1),
      cmocka_unit_test(builds_upload_and_mount_urls),
      cmocka_unit_test(resolves_upload_locations),
      cmocka_unit_test(adds_the_digest_to_the_upload_query),
      cmocka_unit_test(keeps_ports_and_paths),
      cmocka_unit_test(insecure_means_plain_http),
      cmocka_unit_test(loopback_may_fall_back_to_http),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

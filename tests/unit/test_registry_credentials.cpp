#include <stdlib.h>

#include "common/file.h"
#include "common/registry/credentials.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using tandem::registry::base64Decode;
using tandem::registry::base64Encode;
using tandem::registry::credentialsFromDockerConfig;
using tandem::registry::lookupCredentials;
using tandem::registry::parseCredentials;

static void base64_round_trips(void**) {
  assert_string_equal(base64Encode("user:pass").c_str(), "dXNlcjpwYXNz");
  assert_string_equal(base64Encode("ab").c_str(), "YWI=");
  assert_string_equal(base64Encode("a").c_str(), "YQ==");
  assert_string_equal(base64Decode("dXNlcjpwYXNz")->c_str(), "user:pass");
  assert_string_equal(base64Decode("YWI=")->c_str(), "ab");
  assert_false(base64Decode("not*base64").ok());
}

static void parses_creds_argument(void**) {
  auto creds = parseCredentials("alice:pa:ss");
  assert_true(creds.ok());
  assert_string_equal(creds->username.c_str(), "alice");
  assert_string_equal(creds->password.c_str(), "pa:ss");
  assert_false(parseCredentials("alice").ok());
  assert_false(parseCredentials(":pass").ok());
}

static void matches_hosts_as_docker_writes_them(void**) {
  std::string config = R"({"auths": {
    "https://index.docker.io/v1/": {"auth": ")" +
                       base64Encode("hub:secret") + R"("},
    "registry.example:5000": {"auth": ")" +
                       base64Encode("me:pw") + R"("},
    "http://other.example/v2/": {"username": "u", "password": "p"}
  }})";
  auto hub = credentialsFromDockerConfig(config, "docker.io", "config.json");
  assert_true(hub.ok() && hub->has_value());
  assert_string_equal((*hub)->username.c_str(), "hub");
  assert_string_equal((*hub)->password.c_str(), "secret");
  auto local = credentialsFromDockerConfig(config, "registry.example:5000", "config.json");
  assert_true(local.ok() && local->has_value());
  assert_string_equal((*local)->username.c_str(), "me");
  auto other = credentialsFromDockerConfig(config, "other.example", "config.json");
  assert_true(other.ok() && other->has_value());
  assert_string_equal((*other)->password.c_str(), "p");
  auto none = credentialsFromDockerConfig(config, "registry.example", "config.json");
  assert_true(none.ok());
  assert_false(none->has_value());
}

static void reports_broken_configs(void**) {
  auto broken = credentialsFromDockerConfig("{", "docker.io", "/x/config.json");
  assert_false(broken.ok());
  assert_non_null(strstr(broken.error().message().c_str(), "/x/config.json"));
  auto badAuth =
      credentialsFromDockerConfig(R"({"auths":{"docker.io":{"auth":"???"}}})", "docker.io", "c");
  assert_false(badAuth.ok());
  assert_true(credentialsFromDockerConfig("{}", "docker.io", "c")->has_value() == false);
}

static void looks_up_docker_config_env(void** state) {
  const std::string& dir = tempDir(state);
  std::string config =
      R"({"auths":{"localhost:5000":{"auth":")" + base64Encode("bob:hunter2") + R"("}}})";
  assert_true(tandem::writeFile(dir + "/config.json", config, 0600).ok());
  ::setenv("DOCKER_CONFIG", dir.c_str(), 1);
  auto found = lookupCredentials("localhost:5000");
  assert_true(found.ok() && found->has_value());
  assert_string_equal((*found)->username.c_str(), "bob");
  assert_string_equal((*found)->password.c_str(), "hunter2");
  auto missing = lookupCredentials("elsewhere:5000");
  assert_true(missing.ok());
  assert_false(missing->has_value());
  ::setenv("DOCKER_CONFIG", (dir + "/nonexistent").c_str(), 1);
  auto noFile = lookupCredentials("localhost:5000");
  assert_true(noFile.ok());
  assert_false(noFile->has_value());
  ::unsetenv("DOCKER_CONFIG");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(base64_round_trips),
      cmocka_unit_test(parses_creds_argument),
      cmocka_unit_test(matches_hosts_as_docker_writes_them),
      cmocka_unit_test(reports_broken_configs),
      cmocka_unit_test_setup_teardown(looks_up_docker_config_env, makeTempDir, removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

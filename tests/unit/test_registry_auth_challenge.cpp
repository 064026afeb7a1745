#include "common/registry/auth_challenge.h"
#include "common/registry/registry_auth.h"
#include "tests/unit/unit_test.h"

using tandem::registry::AuthChallenge;
using tandem::registry::mergeScopes;
using tandem::registry::parseAuthChallenges;
using tandem::registry::repositoryScope;
using tandem::registry::tokenFromResponse;
using tandem::registry::tokenUrl;

static void parses_docker_hub_bearer(void**) {
  auto parsed = parseAuthChallenges(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",)"
      R"(scope="repository:library/busybox:pull")");
  assert_true(parsed.ok());
  assert_int_equal(parsed->size(), 1);
  const AuthChallenge& c = (*parsed)[0];
  assert_string_equal(c.scheme.c_str(), "bearer");
  assert_string_equal(c.params.at("realm").c_str(), "https://auth.docker.io/token");
  assert_string_equal(c.params.at("service").c_str(), "registry.docker.io");
  assert_string_equal(c.params.at("scope").c_str(), "repository:library/busybox:pull");
}

static void scheme_and_names_are_case_insensitive(void**) {
  auto parsed = parseAuthChallenges(R"(BASIC Realm="Registry Realm")");
  assert_true(parsed.ok());
  assert_string_equal((*parsed)[0].scheme.c_str(), "basic");
  assert_string_equal((*parsed)[0].params.at("realm").c_str(), "Registry Realm");
}

static void quoted_values_keep_commas_and_escaped_quotes(void**) {
  auto parsed = parseAuthChallenges(
      R"(Bearer realm="https://a.example/token?x=1,2", scope="repository:a/b:pull,push", )"
      R"(error="say \"hi\"")");
  assert_true(parsed.ok());
  assert_int_equal(parsed->size(), 1);
  const AuthChallenge& c = (*parsed)[0];
  assert_string_equal(c.params.at("realm").c_str(), "https://a.example/token?x=1,2");
  assert_string_equal(c.params.at("scope").c_str(), "repository:a/b:pull,push");
  assert_string_equal(c.params.at("error").c_str(), "say \"hi\"");
}

static void reads_several_challenges(void**) {
  auto parsed = parseAuthChallenges(
      R"(Basic realm="basic-realm", Bearer realm="https://t.example/", service=reg , )"
      R"(Negotiate abc123==)");
  assert_true(parsed.ok());
  assert_int_equal(parsed->size(), 3);
  assert_string_equal((*parsed)[0].scheme.c_str(), "basic");
  assert_string_equal((*parsed)[0].params.at("realm").c_str(), "basic-realm");
  assert_string_equal((*parsed)[1].scheme.c_str(), "bearer");
  assert_string_equal((*parsed)[1].params.at("realm").c_str(), "https://t.example/");
  assert_string_equal((*parsed)[1].params.at("service").c_str(), "reg");
  assert_string_equal((*parsed)[2].scheme.c_str(), "negotiate");
  assert_true((*parsed)[2].params.empty());
}

static void rejects_broken_headers(void**) {
  assert_false(parseAuthChallenges("").ok());
  assert_false(parseAuthChallenges("   ").ok());
  auto unterminated = parseAuthChallenges(R"(Bearer realm="https://a)");
  assert_false(unterminated.ok());
  assert_non_null(strstr(unterminated.error().message().c_str(), "WWW-Authenticate"));
  assert_false(parseAuthChallenges(R"(Bearer realm="a" junk")").ok());
}

static void builds_token_url(void**) {
  AuthChallenge c{"bearer", {{"realm", "https://auth.example/token"}, {"service", "reg x"}}};
  assert_string_equal(
      tokenUrl(c, "repository:lib/app:pull").c_str(),
      "https://auth.example/token?service=reg%20x&scope=repository%3Alib%2Fapp%3Apull");
  AuthChallenge withQuery{"bearer", {{"realm", "https://auth.example/t?a=b"}}};
  assert_string_equal(tokenUrl(withQuery, "s").c_str(), "https://auth.example/t?a=b&scope=s");
  // Token servers read one scope parameter per entry.
  AuthChallenge bare{"bearer", {{"realm", "https://a.example/t"}}};
  assert_string_equal(tokenUrl(bare, "repository:a:pull,push repository:b:pull").c_str(),
                      "https://a.example/t?scope=repository%3Aa%3Apull%2Cpush"
                      "&scope=repository%3Ab%3Apull");
}

static void merges_wanted_scopes_into_the_challenged(void**) {
  assert_string_equal(repositoryScope("lib/app", "pull,push").c_str(),
                      "repository:lib/app:pull,push");
  // A HEAD's challenge asks for pull; the token must also cover the push that follows.
  assert_string_equal(mergeScopes("repository:a:pull", "repository:a:pull,push").c_str(),
                      "repository:a:pull repository:a:pull,push");
  assert_string_equal(mergeScopes("repository:a:pull", "repository:a:pull").c_str(),
                      "repository:a:pull");
  assert_string_equal(mergeScopes("", "repository:a:pull repository:b:pull").c_str(),
                      "repository:a:pull repository:b:pull");
  assert_string_equal(
      mergeScopes("repository:b:pull repository:a:push", "repository:a:push repository:b:pull")
          .c_str(),
      "repository:b:pull repository:a:push");
}

static void reads_token_answers(void**) {
  assert_string_equal(tokenFromResponse(R"({"token":"abc"})", "u")->c_str(), "abc");
  assert_string_equal(tokenFromResponse(R"({"access_token":"xyz","expires_in":60})", "u")->c_str(),
                      "xyz");
  auto missing = tokenFromResponse(R"({"nothing":1})", "https://t.example/");
  assert_false(missing.ok());
  assert_non_null(strstr(missing.error().message().c_str(), "https://t.example/"));
  assert_false(tokenFromResponse("not json", "u").ok());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_docker_hub_bearer),
      cmocka_unit_test(scheme_and_names_are_case_insensitive),
      cmocka_unit_test(quoted_values_keep_commas_and_escaped_quotes),
      cmocka_unit_test(reads_several_challenges),
      cmocka_unit_test(rejects_broken_headers),
      cmocka_unit_test(builds_token_url),
      cmocka_unit_test(merges_wanted_scopes_into_the_challenged),
      cmocka_unit_test(reads_token_answers),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

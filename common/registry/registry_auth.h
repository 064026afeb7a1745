// Authentication against one repository of one registry (distribution spec, "token
// authentication" as docker/distribution documents it): requests go out with whatever
// Authorization the last challenge earned; a 401 is answered by fetching a bearer token from the
// challenge's realm, or by switching to basic credentials, and the token is kept per scope for
// the rest of the run.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/registry/auth_challenge.h"
#include "common/registry/credentials.h"
#include "common/registry/http_request.h"
#include "common/result.h"

namespace tandem::registry {

// The token request URL: realm?service=...&scope=..., the values percent-encoded; a scope of
// several space-separated entries becomes one scope parameter each, as token servers read them.
std::string tokenUrl(const AuthChallenge& challenge, std::string_view scope);

// "repository:<name>:<actions>", e.g. actions "pull" or "pull,push".
std::string repositoryScope(std::string_view repository, std::string_view actions);

// The scope to ask a token for: what the challenge names, plus those entries of `wanted` it
// lacks, space-separated. A challenge for one request (a HEAD asks only "pull") would otherwise
// earn a token the next request (a push) is refused with.
std::string mergeScopes(std::string_view challenged, std::string_view wanted);

// The token in a token server's JSON answer: "token", or OAuth2's "access_token".
Result<std::string> tokenFromResponse(std::string_view json, std::string_view url);

class RegistryAuth {
 public:
  // `scope` is what every token should cover: repositoryScope(name, "pull") for a pull.
  RegistryAuth(std::string scope, std::optional<Credentials> credentials, TlsOptions tls)
      : scope_(std::move(scope)), credentials_(std::move(credentials)), tls_(std::move(tls)) {}

  // "Authorization: ..." to send, or empty before any challenge.
  const std::string& header() const { return header_; }
  // Answers a 401's WWW-Authenticate; `request` ("GET https://...") is what got it, for errors.
  Status answer(std::string_view wwwAuthenticate, std::string_view request);

 private:
  Status answerBearer(const AuthChallenge& challenge);

  std::string scope_;
  std::optional<Credentials> credentials_;
  TlsOptions tls_;
  std::string header_;
  std::map<std::string, std::string> tokens_;  // scope -> bearer token
};

}  // namespace tandem::registry

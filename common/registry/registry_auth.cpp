#include "common/registry/registry_auth.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

namespace tandem::registry {

namespace {

// A token server's answer is a small JSON object.
constexpr std::size_t kMaxTokenResponse = 1 << 20;

std::string percentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  return out;
}

// A scope's space-separated entries ("repository:a:pull repository:b:pull").
std::vector<std::string_view> scopeEntries(std::string_view scope) {
  std::vector<std::string_view> entries;
  std::size_t start = 0;
  while (start < scope.size()) {
    std::size_t end = std::min(scope.find(' ', start), scope.size());
    if (end > start) {
      entries.push_back(scope.substr(start, end - start));
    }
    start = end + 1;
  }
  return entries;
}

}  // namespace

std::string tokenUrl(const AuthChallenge& challenge, std::string_view scope) {
  std::string url = challenge.params.at("realm");
  char separator = url.find('?') == std::string::npos ? '?' : '&';
  if (auto service = challenge.params.find("service"); service != challenge.params.end()) {
    url += separator + std::string("service=") + percentEncode(service->second);
    separator = '&';
  }
  for (std::string_view entry : scopeEntries(scope)) {
    url += separator + std::string("scope=") + percentEncode(entry);
    separator = '&';
  }
  return url;
}

std::string repositoryScope(std::string_view repository, std::string_view actions) {
  return "repository:" + std::string(repository) + ":" + std::string(actions);
}

std::string mergeScopes(std::string_view challenged, std::string_view wanted) {
  std::string merged(challenged);
  std::vector<std::string_view> present = scopeEntries(challenged);
  for (std::string_view entry : scopeEntries(wanted)) {
    if (std::find(present.begin(), present.end(), entry) == present.end()) {
      merged += (merged.empty() ? "" : " ") + std::string(entry);
      present.push_back(entry);
    }
  }
  return merged;
}

Result<std::string> tokenFromResponse(std::string_view json, std::string_view url) {
  auto answer = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (answer.is_object()) {
    for (const char* field : {"token", "access_token"}) {
      auto token = answer.find(field);
      if (token != answer.end() && token->is_string() && !token->get<std::string>().empty()) {
        return token->get<std::string>();
      }
    }
  }
  return Error("the token server at " + std::string(url) +
               " answered without a \"token\" or \"access_token\" field");
}

Status RegistryAuth::answer(std::string_view wwwAuthenticate, std::string_view request) {
  std::string url(request);
  if (wwwAuthenticate.empty()) {
    return Error(url +
                 ": HTTP 401 without a WWW-Authenticate header, so there is no way to log in");
  }
  TANDEM_ASSIGN_OR_RETURN(auto challenges, parseAuthChallenges(wwwAuthenticate));
  for (const AuthChallenge& challenge : challenges) {
    if (challenge.scheme == "bearer") {
      return answerBearer(challenge).context(url);
    }
  }
  for (const AuthChallenge& challenge : challenges) {
    if (challenge.scheme == "basic") {
      if (!credentials_) {
        return Error(url +
                     ": the registry wants a user name and password; pass --creds USER:PASS or "
                     "log in with `docker login`");
      }
      std::string basic = "Authorization: Basic " +
                          base64Encode(credentials_->username + ":" + credentials_->password);
      if (basic == header_) {
        return Error(url + ": the registry refused the credentials (HTTP 401); check them");
      }
      header_ = std::move(basic);
      return okStatus();
    }
  }
  return Error(url + ": the registry asks for authentication by \"" + challenges.front().scheme +
               "\", which tandem does not speak");
}

Status RegistryAuth::answerBearer(const AuthChallenge& challenge) {
  if (!challenge.params.contains("realm")) {
    return Error("the registry's Bearer challenge names no realm to get a token from");
  }
  std::string scope = scope_;
  if (auto asked = challenge.params.find("scope"); asked != challenge.params.end()) {
    scope = mergeScopes(asked->second, scope_);
  }
  // A cached token that earned a 401 has expired or lacks the scope: fetch a fresh one.
  if (auto cached = tokens_.find(scope);
      cached != tokens_.end() && "Authorization: Bearer " + cached->second != header_) {
    header_ = "Authorization: Bearer " + cached->second;
    return okStatus();
  }
  std::string url = tokenUrl(challenge, scope);
  TANDEM_ASSIGN_OR_RETURN(auto get, HttpRequest::create(url, {"Accept: application/json"}, tls_));
  get->collect(kMaxTokenResponse);
  if (credentials_) {
    TANDEM_TRY(get->basicAuth(credentials_->username, credentials_->password));
  }
  HttpOutcome outcome = get->finish(get->perform());
  if (outcome == HttpOutcome::kUnauthorized) {
    return get->error().context(credentials_ ? "the token server refused the credentials"
                                             : "the token server wants credentials; pass "
                                               "--creds USER:PASS or log in with `docker login`");
  }
  if (outcome != HttpOutcome::kOk) {
    return get->error().context("cannot get a token for " + scope);
  }
  TANDEM_ASSIGN_OR_RETURN(std::string token, tokenFromResponse(get->takeBody(), url));
  tokens_[scope] = token;
  header_ = "Authorization: Bearer " + token;
  return okStatus();
}

}  // namespace tandem::registry

#include "common/registry/auth_challenge.h"

#include <cctype>

namespace tandem::registry {

namespace {

// RFC 7230 section 3.2.6 tchar, plus '/' which token68 values (Basic's) may hold.
bool isTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~/").find(c) != std::string_view::npos;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool done() const { return pos_ >= text_.size(); }
  char peek() const { return done() ? '\0' : text_[pos_]; }
  std::size_t pos() const { return pos_; }
  void skip() { ++pos_; }
  void skipSpace() {
    while (!done() && (text_[pos_] == ' ' || text_[pos_] == '\t')) {
      ++pos_;
    }
  }
  std::string_view token() {
    std::size_t start = pos_;
    while (!done() && isTokenChar(text_[pos_])) {
      ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }
  // Reads a quoted-string whose opening quote is at the cursor; false if it never closes.
  bool quoted(std::string& out) {
    ++pos_;
    while (!done()) {
      char c = text_[pos_++];
      if (c == '"') {
        return true;
      }
      if (c == '\\' && !done()) {
        c = text_[pos_++];
      }
      out += c;
    }
    return false;
  }
  // Whether the token ahead is a parameter name (followed by '=') rather than a new scheme.
  bool paramAhead() const {
    std::size_t p = pos_;
    while (p < text_.size() && isTokenChar(text_[p])) {
      ++p;
    }
    while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t')) {
      ++p;
    }
    return p < text_.size() && text_[p] == '=' &&
           (p + 1 >= text_.size() || text_[p + 1] != '=');  // "abc==" is token68, not a param
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

Result<std::vector<AuthChallenge>> parseAuthChallenges(std::string_view header) {
  auto fail = [&](std::size_t at, std::string_view why) {
    return Error("cannot parse the registry's WWW-Authenticate header \"" + std::string(header) +
                 "\" at offset " + std::to_string(at) + ": " + std::string(why));
  };
  std::vector<AuthChallenge> challenges;
  Cursor cursor(header);
  while (true) {
    cursor.skipSpace();
    while (cursor.peek() == ',') {
      cursor.skip();
      cursor.skipSpace();
    }
    if (cursor.done()) {
      break;
    }
    if (!challenges.empty() && cursor.paramAhead()) {
      AuthChallenge& challenge = challenges.back();
      std::string name = lower(cursor.token());
      cursor.skipSpace();
      cursor.skip();  // '='
      cursor.skipSpace();
      std::string value;
      if (cursor.peek() == '"') {
        if (!cursor.quoted(value)) {
          return fail(cursor.pos(), "a quoted value never ends");
        }
      } else {
        value = std::string(cursor.token());
      }
      challenge.params[name] = std::move(value);
      cursor.skipSpace();
      if (!cursor.done() && cursor.peek() != ',') {
        return fail(cursor.pos(), "expected ',' after the parameter " + name);
      }
      continue;
    }
    std::string_view scheme = cursor.token();
    if (scheme.empty()) {
      return fail(cursor.pos(), "expected an authentication scheme");
    }
    challenges.push_back(AuthChallenge{lower(scheme), {}});
    cursor.skipSpace();
    // A token68 credential (RFC 7235) right after the scheme carries no parameters tandem uses.
    if (!cursor.done() && cursor.peek() != ',' && !cursor.paramAhead()) {
      cursor.token();
      while (cursor.peek() == '=') {
        cursor.skip();
      }
      cursor.skipSpace();
    }
    if (cursor.paramAhead()) {
      continue;  // the first parameter follows the scheme without a comma
    }
    if (!cursor.done() && cursor.peek() != ',') {
      return fail(cursor.pos(), "unexpected character after the scheme");
    }
  }
  if (challenges.empty()) {
    return Error("the registry's WWW-Authenticate header is empty; it names no way to log in");
  }
  return challenges;
}

}  // namespace tandem::registry

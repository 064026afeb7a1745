// Errors as values. C++20 has no std::expected, so tandem keeps a small Result<T> of its own:
// either a value or an Error carrying an errno and a message a user can act on.
#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tandem {

class Error {
 public:
  explicit Error(std::string message, int errnum = 0)
      : message_(std::move(message)), errnum_(errnum) {}

  // Captures errno at the call site; `what` names the operation and the object it touched.
  static Error fromErrno(std::string what) { return Error(std::move(what), errno); }
  static Error fromErrno(std::string what, int errnum) { return Error(std::move(what), errnum); }

  const std::string& message() const { return message_; }
  int errnum() const { return errnum_; }

  // Prefixes the message with what the caller was doing, as crun's error contract does.
  Error context(std::string_view what) const& {
    return Error(std::string(what) + ": " + message_, errnum_);
  }
  Error context(std::string_view what) && {
    message_.insert(0, std::string(what) + ": ");
    return std::move(*this);
  }

  // The full text shown to a user: the message, then the system's reason if there is one.
  std::string describe() const;

 private:
  std::string message_;
  int errnum_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(state_); }
  Error&& error() && { return std::get<1>(std::move(state_)); }

  // Passes a value through, or prefixes the error with what the caller was doing.
  Result context(std::string_view what) && {
    if (ok()) {
      return std::move(*this);
    }
    return std::move(*this).error().context(what);
  }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }

  const Error& error() const& { return *error_; }
  Error&& error() && { return std::move(*error_); }

  Result context(std::string_view what) && {
    if (ok()) {
      return Result();
    }
    return std::move(*error_).context(what);
  }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status okStatus() {
  return Status();
}

}  // namespace tandem

// Returns the error of `expr` from the enclosing function, which must return a Result.
#define TANDEM_TRY(expr)                            \
  do {                                              \
    auto tandem_try_result_ = (expr);               \
    if (!tandem_try_result_) {                      \
      return std::move(tandem_try_result_).error(); \
    }                                               \
  } while (0)

#define TANDEM_CONCAT_INNER(a, b) a##b
#define TANDEM_CONCAT(a, b) TANDEM_CONCAT_INNER(a, b)

// Declares `decl` from the value of `expr`, or returns its error.
#define TANDEM_ASSIGN_OR_RETURN(decl, expr) \
  TANDEM_ASSIGN_OR_RETURN_IMPL(TANDEM_CONCAT(tandem_result_, __LINE__), decl, expr)
#define TANDEM_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                                  \
  if (!tmp) {                                         \
    return std::move(tmp).error();                    \
  }                                                   \
  decl = std::move(tmp).value()

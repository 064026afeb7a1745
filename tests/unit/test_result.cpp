// Result<T> and Error: values and errors pass through, context accumulates outermost first,
// and the errno survives every hop.
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "common/result.h"
#include "tests/unit/unit_test.h"

using tandem::Error;
using tandem::okStatus;
using tandem::Result;
using tandem::Status;

namespace {

int calls = 0;

Result<int> number(bool succeed, int value = 7) {
  ++calls;
  if (!succeed) {
    return Error::fromErrno("cannot read the number", EIO);
  }
  return value;
}

Status check(bool succeed) {
  ++calls;
  if (!succeed) {
    return Error("check failed");
  }
  return okStatus();
}

// Both macros, each used more than once in one function.
Result<int> sum(bool first, bool second, bool third) {
  TANDEM_TRY(check(third));
  TANDEM_ASSIGN_OR_RETURN(int a, number(first, 2));
  TANDEM_ASSIGN_OR_RETURN(int b, number(second, 3));
  int c = 0;
  TANDEM_ASSIGN_OR_RETURN(c, number(true, 4));
  TANDEM_TRY(check(true));
  return a + b + c;
}

Status statusFromSum(bool first, bool second) {
  TANDEM_ASSIGN_OR_RETURN(int total, sum(first, second, true));
  if (total != 9) {
    return Error("wrong total");
  }
  return okStatus();
}

Result<std::unique_ptr<int>> boxed(bool succeed) {
  if (!succeed) {
    return Error("no box");
  }
  return std::make_unique<int>(42);
}

Result<int> unboxed(bool succeed) {
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<int> box, boxed(succeed));
  return *box;
}

// The expression is evaluated exactly once, even though the macro names it twice.
Status tryOnce(bool succeed) {
  TANDEM_TRY(check(succeed));
  return okStatus();
}

Result<int> layered() {
  TANDEM_ASSIGN_OR_RETURN(int value, number(false).context("loading the config"));
  return value;
}

Result<int> outer() {
  return layered().context("starting the workload");
}

}  // namespace

static void values_pass_through(void**) {
  Result<int> result = number(true, 5);
  assert_true(result.ok());
  assert_true(static_cast<bool>(result));
  assert_int_equal(*result, 5);
  assert_int_equal(result.value(), 5);
  *result = 6;
  assert_int_equal(*result, 6);

  Result<std::string> text = std::string("abc");
  assert_int_equal(text->size(), 3);

  Status status = okStatus();
  assert_true(status.ok());
  assert_true(static_cast<bool>(Status()));
}

static void errors_carry_message_and_errno(void**) {
  Result<int> result = number(false);
  assert_false(result.ok());
  assert_false(static_cast<bool>(result));
  assert_string_equal(result.error().message().c_str(), "cannot read the number");
  assert_int_equal(result.error().errnum(), EIO);

  Status status = check(false);
  assert_false(status.ok());
  assert_int_equal(status.error().errnum(), 0);
}

static void from_errno_captures_errno_at_the_call(void**) {
  errno = ENOENT;
  Error error = Error::fromErrno("cannot open /nowhere");
  errno = 0;
  assert_int_equal(error.errnum(), ENOENT);
  assert_int_equal(Error::fromErrno("x", EACCES).errnum(), EACCES);
  assert_int_equal(Error("plain").errnum(), 0);
}

static void context_chains_outermost_first(void**) {
  Error error = Error("disk full", ENOSPC).context("writing the state").context("starting web");
  assert_string_equal(error.message().c_str(), "starting web: writing the state: disk full");
  assert_int_equal(error.errnum(), ENOSPC);

  // The lvalue form leaves the original as it was.
  Error base("base", EPERM);
  Error wrapped = base.context("outer");
  assert_string_equal(base.message().c_str(), "base");
  assert_string_equal(wrapped.message().c_str(), "outer: base");
  assert_int_equal(wrapped.errnum(), EPERM);

  Result<int> result = number(false).context("loading").context("running");
  assert_false(result.ok());
  assert_string_equal(result.error().message().c_str(), "running: loading: cannot read the number");
  assert_int_equal(result.error().errnum(), EIO);

  Status status = check(false).context("validating");
  assert_string_equal(status.error().message().c_str(), "validating: check failed");

  auto through = outer();
  assert_false(through.ok());
  assert_string_equal(through.error().message().c_str(),
                      "starting the workload: loading the config: cannot read the number");
  assert_int_equal(through.error().errnum(), EIO);
}

static void context_leaves_values_alone(void**) {
  Result<int> result = number(true, 11).context("should not appear");
  assert_true(result.ok());
  assert_int_equal(*result, 11);
  Status status = check(true).context("should not appear");
  assert_true(status.ok());
  auto box = boxed(true).context("unused");
  assert_true(box.ok());
  assert_int_equal(**box, 42);
}

static void try_and_assign_propagate(void**) {
  calls = 0;
  auto total = sum(true, true, true);
  assert_true(total.ok());
  assert_int_equal(*total, 9);
  assert_int_equal(calls, 5);

  // Each failure returns at once, with its own error and nothing after it evaluated.
  calls = 0;
  total = sum(false, true, true);
  assert_false(total.ok());
  assert_string_equal(total.error().message().c_str(), "cannot read the number");
  assert_int_equal(total.error().errnum(), EIO);
  assert_int_equal(calls, 2);

  calls = 0;
  total = sum(true, false, true);
  assert_false(total.ok());
  assert_int_equal(calls, 3);

  calls = 0;
  total = sum(true, true, false);
  assert_false(total.ok());
  assert_string_equal(total.error().message().c_str(), "check failed");
  assert_int_equal(calls, 1);

  // Across return types: a Result<int>'s error becomes a Status's.
  assert_true(statusFromSum(true, true).ok());
  Status status = statusFromSum(true, false);
  assert_false(status.ok());
  assert_int_equal(status.error().errnum(), EIO);

  calls = 0;
  assert_false(tryOnce(false).ok());
  assert_int_equal(calls, 1);
  calls = 0;
  assert_true(tryOnce(true).ok());
  assert_int_equal(calls, 1);
}

static void move_only_values(void**) {
  auto value = unboxed(true);
  assert_true(value.ok());
  assert_int_equal(*value, 42);
  auto error = unboxed(false);
  assert_false(error.ok());
  assert_string_equal(error.error().message().c_str(), "no box");

  Result<std::unique_ptr<int>> box = boxed(true);
  std::unique_ptr<int> taken = std::move(box).value();
  assert_non_null(taken.get());
  assert_int_equal(*taken, 42);
}

static void describe_with_and_without_errno(void**) {
  assert_string_equal(Error("no command given").describe().c_str(), "no command given");
  std::string described = Error("cannot open /dev/kvm", ENOENT).describe();
  assert_string_equal(described.c_str(),
                      (std::string("cannot open /dev/kvm: ") + std::strerror(ENOENT)).c_str());
  assert_string_equal(Error::fromErrno("x", EACCES).context("y").describe().c_str(),
                      (std::string("y: x: ") + std::strerror(EACCES)).c_str());
  // An empty message still describes its errno.
  assert_string_equal(Error("", EPERM).describe().c_str(),
                      (std::string(": ") + std::strerror(EPERM)).c_str());
  // An errno the C library has no name for still describes something.
  assert_true(Error("odd", 100000).describe().size() > std::strlen("odd: "));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(values_pass_through),
      cmocka_unit_test(errors_carry_message_and_errno),
      cmocka_unit_test(from_errno_captures_errno_at_the_call),
      cmocka_unit_test(context_chains_outermost_first),
      cmocka_unit_test(context_leaves_values_alone),
      cmocka_unit_test(try_and_assign_propagate),
      cmocka_unit_test(move_only_values),
      cmocka_unit_test(describe_with_and_without_errno),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

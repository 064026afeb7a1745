// The fuzzer's bytes read as a sequence of decisions: integers, lengths and byte strings taken
// from the front. Running out is not an error: every read then gives zeroes or an empty span,
// so a target reads what it needs and stops when empty() says the input is spent. Its own, so
// the targets also build with g++ (as regression replays) where clang's FuzzedDataProvider is
// not on the include path.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size) : rest_(data, size) {}

  bool empty() const { return rest_.empty(); }
  std::size_t remaining() const { return rest_.size(); }

  template <class T>
  T take() {
    static_assert(std::is_trivially_copyable_v<T>);
    T value{};
    std::size_t n = std::min(sizeof(T), rest_.size());
    if (n > 0) {
      std::memcpy(&value, rest_.data(), n);
    }
    rest_ = rest_.subspan(n);
    return value;
  }

  // A value in [0, bound); 0 when bound is 0.
  std::uint32_t below(std::uint32_t bound) {
    return bound == 0 ? 0 : take<std::uint32_t>() % bound;
  }

  std::span<const std::uint8_t> bytes(std::size_t count) {
    std::size_t n = std::min(count, rest_.size());
    auto taken = rest_.first(n);
    rest_ = rest_.subspan(n);
    return taken;
  }

  // A string whose length comes first, as one byte, or two with `wide`.
  std::string text(bool wide = false) {
    std::size_t length = wide ? take<std::uint16_t>() : take<std::uint8_t>();
    auto taken = bytes(length);
    return {taken.begin(), taken.end()};
  }

  std::span<const std::uint8_t> rest() { return bytes(rest_.size()); }

 private:
  std::span<const std::uint8_t> rest_;
};

// A property every input must keep; a break aborts, which the fuzzer records as a crash with the
// input that caused it.
inline void fuzzCheck(bool holds, const char* property) {
  if (!holds) {
    std::fprintf(stderr, "fuzz property broken: %s\n", property);
    std::abort();
  }
}

#include "common/signal_name.h"

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace tandem {

Result<int> parseSignal(const std::string& text) {
  auto invalid = [&] {
    return Error("\"" + text + "\" is not a signal; give a name such as TERM or KILL, or a number",
                 EINVAL);
  };
  int number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (!text.empty() && error == std::errc() && end == text.data() + text.size()) {
    if (number < 1 || number >= NSIG) return invalid();
    return number;
  }
  std::string name = text;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (name.starts_with("SIG")) name.erase(0, 3);
  for (int sig = 1; sig < SIGRTMIN; ++sig) {
    const char* abbreviation = ::sigabbrev_np(sig);
    if (abbreviation != nullptr && name == abbreviation) return sig;
  }
  return invalid();
}

}  // namespace tandem

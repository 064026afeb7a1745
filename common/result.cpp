#include "common/result.h"

#include <cstring>

namespace tandem {

std::string Error::describe() const {
  if (errnum_ == 0) {
    return message_;
  }
  return message_ + ": " + std::strerror(errnum_);
}

}  // namespace tandem

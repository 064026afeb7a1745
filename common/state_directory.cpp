#include "common/state_directory.h"

#include "common/file.h"
#include "common/log.h"

namespace tandem {

StateDirectory::~StateDirectory() {
  if (path_.empty()) {
    return;
  }
  if (auto status = removeTree(path_); !status) {
    spdlog::warn("{}", status.error().describe());
  }
}

}  // namespace tandem

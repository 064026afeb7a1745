// An RAII owner of posix_spawn's file actions. Apart from process.h because the guest init,
// which includes that, has a spawn.h of its own on its include path.
#pragma once

#include <spawn.h>

namespace tandem {

// posix_spawn's file actions, destroyed on every return.
class SpawnFileActions {
 public:
  SpawnFileActions() { ::posix_spawn_file_actions_init(&actions_); }
  ~SpawnFileActions() { ::posix_spawn_file_actions_destroy(&actions_); }
  SpawnFileActions(const SpawnFileActions&) = delete;
  SpawnFileActions& operator=(const SpawnFileActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

}  // namespace tandem

// A workload's folder under the state root, removed on every early return unless kept on
// purpose: a run that fails half-way leaves no state behind.
#pragma once

#include <string>

namespace tandem {

class StateDirectory {
 public:
  explicit StateDirectory(std::string path) : path_(std::move(path)) {}
  ~StateDirectory();
  StateDirectory(const StateDirectory&) = delete;
  StateDirectory& operator=(const StateDirectory&) = delete;
  const std::string& path() const { return path_; }
  void keep() { path_.clear(); }

 private:
  std::string path_;
};

}  // namespace tandem

// One function per runc command. Each returns the process's exit code: 0, or 1 after logging
// the error, as runc does; `run` returns the container's own exit code.
#pragma once

#include <string>
#include <vector>

namespace tandem::oci_cli {

struct GlobalOptions {
  std::string root = "/run/tandem-oci";
  bool systemdCgroup = false;
  std::string program;  // argv[0]
};

using Arguments = std::vector<std::string>;

int createCommand(const GlobalOptions& global, const Arguments& args);
int startCommand(const GlobalOptions& global, const Arguments& args);
int stateCommand(const GlobalOptions& global, const Arguments& args);
int killCommand(const GlobalOptions& global, const Arguments& args);
int deleteCommand(const GlobalOptions& global, const Arguments& args);
int runCommand(const GlobalOptions& global, const Arguments& args);
int execCommand(const GlobalOptions& global, const Arguments& args);
int psCommand(const GlobalOptions& global, const Arguments& args);
int listCommand(const GlobalOptions& global, const Arguments& args);
int featuresCommand(const GlobalOptions& global, const Arguments& args);
int specCommand(const GlobalOptions& global, const Arguments& args);
// Hidden: the container's first process, re-executed from the protected copy.
int bundleProcessCommand(const GlobalOptions& global, const Arguments& args);
// Hidden: a bundle's process at VM level, which runs its microVM once started.
int vmProcessCommand(const GlobalOptions& global, const Arguments& args);
// Hidden: an exec'd process's intermediate, in the protected copy.
int execProcessCommand(const GlobalOptions& global, const Arguments& args);

}  // namespace tandem::oci_cli

// The OCI runtime's operations on bundles, as runc's command line offers them: create (the
// container built and waiting), start, state, kill, delete, ps, and run. State lives in
// <root>/<id>/, so that each command is a process of its own, as engines call them.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/oci/container_directory.h"
#include "common/result.h"
#include "container/oci/bundle_exec.h"

namespace tandem::container {

struct CreateOptions {
  std::string id;
  std::string pidFile;        // written once the container is created
  std::string consoleSocket;  // with process.terminal: the pty master goes here (SCM_RIGHTS)
  bool noPivot = false;
  bool systemdCgroup = false;
};

class BundleRuntime {
 public:
  // `program` is what the container's first process re-executes as (argv[0] of the copy).
  BundleRuntime(std::string root, std::string program)
      : root_(std::move(root)), program_(std::move(program)) {}

  // Builds the container and leaves its process waiting for start; returns that process's pid.
  // The process is this one's child: a caller that exits hands it to its subreaper, as runc's
  // create does.
  Result<pid_t> create(const CreateOptions& options, const oci::Bundle& bundle) const;
  Status start(const std::string& id) const;
  Result<nlohmann::json> state(const std::string& id) const;
  // Its record, whatever level runs it, and its status now.
  Result<oci::LoadedContainer> load(const std::string& id) const;
  // `all`: every process of the container's cgroup, not only its first.
  Status kill(const std::string& id, int signal, bool all) const;
  Status remove(const std::string& id, bool force) const;
  Result<std::vector<pid_t>> processes(const std::string& id) const;
  // Another process in running container `id`; its exit code, or 0 once it runs detached.
  Result<int> exec(const std::string& id, const ExecRequest& request) const;
  // The process config.json gives the container's first process, as JSON: what `exec` without
  // --process starts from.
  Result<std::string> processTemplate(const std::string& id) const;
  Result<std::vector<std::string>> list() const;

 private:
  std::string root_;
  std::string program_;
};

}  // namespace tandem::container

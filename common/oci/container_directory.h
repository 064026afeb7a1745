// Where an OCI runtime keeps a container between its commands, <root>/<id>/, whichever level
// runs it: the state record, a copy of config.json as it was created, and the exec FIFO its
// first process waits on until `start` (whose presence means "created"). And the bundle a
// `create` reads.
#pragma once

#include <string>

#include "common/oci/container_state.h"
#include "common/oci/runtime_spec.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem::oci {

struct LoadedContainer {
  ContainerRecord record;
  ContainerStatus status;
};

class ContainerDirectory {
 public:
  ContainerDirectory(const std::string& root, const std::string& id)
      : root_(root), id_(id), path_(root + "/" + id) {}

  const std::string& id() const { return id_; }
  const std::string& path() const { return path_; }
  std::string fifoPath() const { return path_ + "/exec.fifo"; }

  // Makes the folder, refusing an id in use ("container with id X already exists").
  Status create() const;
  // The record and config.json's text, each written whole or not at all.
  Status save(const ContainerRecord& record) const;
  Status saveConfig(const std::string& specText) const;
  Status makeExecFifo() const;

  // An exclusive lock on the folder, held while a command changes the container (start,
  // delete), so that two commands (an engine's cleanup and its user's rm) take turns.
  // "container does not exist" (ENOENT) when there is no folder.
  Result<UniqueFd> lock() const;

  // The record and the status it shows now; "container does not exist" (ENOENT) when none.
  Result<LoadedContainer> load() const;
  Result<std::string> recordedConfig() const;

 private:
  std::string root_;
  std::string id_;
  std::string path_;
};

// A bundle as `create` reads it: its absolute path, config.json's text and what it says, and
// its root's absolute path. A config.json without a process is refused here.
struct Bundle {
  std::string path;
  std::string specText;
  Spec spec;
  std::string rootfs;
};
Result<Bundle> openBundle(const std::string& path);

// Run by a container's first process, at either level: blocks until `start` opens the FIFO
// (reached through `fifo`, an O_PATH descriptor or a path), then tells it the process goes on.
Status awaitStart(const std::string& fifo);

// Written to a temporary beside it and renamed over it: a reader never sees half a file.
Status writeAtomically(const std::string& path, const std::string& content);

}  // namespace tandem::oci

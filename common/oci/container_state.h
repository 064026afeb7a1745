// What the OCI runtime keeps of a container between its commands, in <root>/<id>/state.json,
// and the runtime-spec's lifecycle read from it: which status a container is in now, and which
// operations that status allows, refused with the text runc gives.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/result.h"

namespace tandem::oci {

enum class ContainerStatus { kCreating, kCreated, kRunning, kStopped };

const char* toString(ContainerStatus status);

struct ContainerRecord {
  std::string id;
  std::string bundle;  // absolute
  std::string rootfs;  // absolute
  pid_t pid = 0;       // the container's process, on the host
  std::uint64_t pidStartTime = 0;
  std::string created;          // RFC 3339, UTC
  bool createFinished = false;  // false while `create` is still building it
  std::map<std::string, std::string> annotations;
  std::string cgroupPath;  // relative to each hierarchy's root
  std::string isolation = "container";
};

nlohmann::json toJson(const ContainerRecord& record);
Result<ContainerRecord> recordFromJson(const nlohmann::json& json);

// What a container is from its record and what the host shows: whether its process still runs
// (the same process, by start time) and whether it still waits on its exec FIFO for `start`.
ContainerStatus observedStatus(const ContainerRecord& record, bool processRunning,
                               bool waitingForStart);

// runtime-spec "State": ociVersion, id, status, pid (while created or running), bundle,
// annotations; and runc's rootfs, created and owner beside them, which engines read too.
nlohmann::json stateJson(const ContainerRecord& record, ContainerStatus status);

enum class Operation { kStart, kKill, kDelete, kExec, kPs };

// Whether `operation` may run on a container in `status`; `force` is delete's --force. The
// refusal says why in runc's words, e.g. "cannot start an already running container".
Status checkOperation(Operation operation, ContainerStatus status, bool force = false);

// runc's rule for container ids: letters, digits and _ + - ., and neither "." nor "..".
Status checkContainerId(const std::string& id);

// Now, as RFC 3339 with nanoseconds in UTC, as runc's "created".
std::string rfc3339Now();

}  // namespace tandem::oci

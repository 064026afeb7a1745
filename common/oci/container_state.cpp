#include "common/oci/container_state.h"

#include <time.h>

#include <cstdio>
#include <nlohmann/json.hpp>

namespace tandem::oci {

const char* toString(ContainerStatus status) {
  switch (status) {
    case ContainerStatus::kCreating:
      return "creating";
    case ContainerStatus::kCreated:
      return "created";
    case ContainerStatus::kRunning:
      return "running";
    case ContainerStatus::kStopped:
      return "stopped";
  }
  return "unknown";
}

nlohmann::json toJson(const ContainerRecord& record) {
  return {
      {"id", record.id},
      {"bundle", record.bundle},
      {"rootfs", record.rootfs},
      {"pid", record.pid},
      {"pidStartTime", record.pidStartTime},
      {"created", record.created},
      {"createFinished", record.createFinished},
      {"annotations", record.annotations},
      {"cgroupPath", record.cgroupPath},
      {"isolation", record.isolation},
  };
}

Result<ContainerRecord> recordFromJson(const nlohmann::json& json) {
  try {
    ContainerRecord record;
    record.id = json.at("id").get<std::string>();
    record.bundle = json.at("bundle").get<std::string>();
    record.rootfs = json.at("rootfs").get<std::string>();
    record.pid = json.at("pid").get<pid_t>();
    record.pidStartTime = json.at("pidStartTime").get<std::uint64_t>();
    record.created = json.at("created").get<std::string>();
    record.createFinished = json.at("createFinished").get<bool>();
    record.annotations = json.at("annotations").get<std::map<std::string, std::string>>();
    record.cgroupPath = json.at("cgroupPath").get<std::string>();
    record.isolation = json.at("isolation").get<std::string>();
    return record;
  } catch (const nlohmann::json::exception& e) {
    return Error(std::string("the container's state record is damaged: ") + e.what());
  }
}

ContainerStatus observedStatus(const ContainerRecord& record, bool processRunning,
                               bool waitingForStart) {
  if (!processRunning) {
    // A create still under way has no process yet, or one that has not reported in.
    return record.createFinished ? ContainerStatus::kStopped : ContainerStatus::kCreating;
  }
  if (!record.createFinished) return ContainerStatus::kCreating;
  return waitingForStart ? ContainerStatus::kCreated : ContainerStatus::kRunning;
}

nlohmann::json stateJson(const ContainerRecord& record, ContainerStatus status) {
  bool hasProcess = status == ContainerStatus::kCreated || status == ContainerStatus::kRunning;
  return {
      {"ociVersion", "1.0.2"},
      {"id", record.id},
      {"pid", hasProcess ? record.pid : 0},
      {"status", toString(status)},
      {"bundle", record.bundle},
      {"rootfs", record.rootfs},
      {"created", record.created},
      {"owner", ""},
      {"annotations", record.annotations},
  };
}

Status checkOperation(Operation operation, ContainerStatus status, bool force) {
  switch (operation) {
    case Operation::kStart:
      if (status == ContainerStatus::kCreated) return okStatus();
      if (status == ContainerStatus::kStopped) {
        return Error("cannot start a container that has stopped");
      }
      if (status == ContainerStatus::kRunning) {
        return Error("cannot start an already running container");
      }
      return Error("cannot start a container that is still being created");
    case Operation::kKill:
      if (status == ContainerStatus::kCreated || status == ContainerStatus::kRunning) {
        return okStatus();
      }
      return Error("container not running");
    case Operation::kDelete:
      if (status == ContainerStatus::kStopped || force) return okStatus();
      if (status == ContainerStatus::kCreated) {
        // runc deletes a created container without --force: its process never ran the user's
        // program.
        return okStatus();
      }
      return Error(std::string("cannot delete container that is not stopped: ") + toString(status));
    case Operation::kExec:
      // As runc: a created container's namespaces exist, and take a process already.
      if (status == ContainerStatus::kRunning || status == ContainerStatus::kCreated) {
        return okStatus();
      }
      return Error(std::string("cannot exec in a ") + toString(status) + " container");
    case Operation::kPs:
      return okStatus();
  }
  return okStatus();
}

Status checkContainerId(const std::string& id) {
  auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '+' || c == '-' || c == '.';
  };
  bool valid = !id.empty() && id.size() <= 1024 && id != "." && id != "..";
  for (char c : id) valid = valid && allowed(c);
  if (!valid) {
    return Error("invalid container id \"" + id +
                 "\": use letters, digits, _ + - and . only (and neither . nor ..)");
  }
  return okStatus();
}

std::string rfc3339Now() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  ::gmtime_r(&now.tv_sec, &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, now.tv_nsec);
  return text;
}

}  // namespace tandem::oci

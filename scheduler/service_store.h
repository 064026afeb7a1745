// The record of every service (tandem service create): a task definition, the isolation asked
// for, how many of its tasks should run, and the controller process that keeps them running
// (scheduler/service_controller.h). Like a task whose supervisor is gone, a service whose
// controller is gone reads as lost; its tasks run on, and the next tandem service command starts
// a controller for it again.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/result.h"
#include "common/sqlite_db.h"
#include "common/workload.h"

namespace tandem::scheduler {

enum class ServiceState { kRunning, kStopped, kLost };
const char* toString(ServiceState state);

struct ServiceRecord {
  std::string id;
  std::string name;
  // The level chosen for its tasks when it was created, and why.
  Isolation isolation = Isolation::kContainer;
  std::string reason;
  std::string definition;  // the task definition's JSON, as given
  unsigned desired = 0;
  ServiceState state = ServiceState::kRunning;
  pid_t ownerPid = 0;  // the controller
  std::uint64_t ownerStart = 0;
  bool stopRequested = false;
  std::int64_t createdNs = 0;
  std::int64_t finishedNs = 0;
  unsigned replaced = 0;  // tasks it started to replace one that ended or failed its checks
  std::string lastEvent;
};

nlohmann::json toJson(const ServiceRecord& record);

// A service name: what a task family may be (letters, digits, '-' and '_', up to 255).
Status checkServiceName(const std::string& name);

class ServiceStore {
 public:
  static Result<ServiceStore> open(const std::string& stateRoot);

  // A new record (id, name, isolation, definition, desired), with no controller yet; EEXIST
  // when the name is taken.
  Status create(const ServiceRecord& service);
  // This process becomes the service's controller: running again, if it was lost.
  Status claim(const std::string& id);
  Status setDesired(const std::string& id, unsigned desired);
  Status recordEvent(const std::string& id, const std::string& event, bool replacement);
  Status finish(const std::string& id);
  Status requestStop(const std::string& id);
  Result<bool> stopRequested(const std::string& id);
  Status markLost(const ServiceRecord& record);
  Status remove(const std::string& id);

  // Every record, newest first.
  Result<std::vector<ServiceRecord>> list();
  // By full id, else the one id it begins (4 characters or more), else by name.
  Result<ServiceRecord> find(const std::string& reference);

 private:
  explicit ServiceStore(SqliteDb db) : db_(std::move(db)) {}

  SqliteDb db_;
};

}  // namespace tandem::scheduler

#include "scheduler/service_store.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/process_identity.h"
#include "scheduler/state_db.h"

namespace tandem::scheduler {
namespace {

constexpr const char* kColumns =
    "id, name, isolation, definition, desired, state, owner_pid, owner_start, stop_requested, "
    "created_ns, finished_ns, replaced, last_event, reason";

constexpr std::size_t kMaxNameLength = 255;

ServiceRecord recordFrom(const SqliteStatement& row) {
  ServiceRecord record;
  record.id = row.text(0);
  record.name = row.text(1);
  if (auto level = parseIsolation(row.text(2))) record.isolation = *level;
  record.definition = row.text(3);
  record.desired = static_cast<unsigned>(row.integer(4));
  record.ownerPid = static_cast<pid_t>(row.integer(6));
  record.ownerStart = static_cast<std::uint64_t>(row.integer(7));
  record.stopRequested = row.integer(8) != 0;
  record.createdNs = row.integer(9);
  record.finishedNs = row.integer(10);
  record.replaced = static_cast<unsigned>(row.integer(11));
  record.lastEvent = row.text(12);
  record.reason = row.text(13);
  std::string state = row.text(5);
  if (state == "stopped") {
    record.state = ServiceState::kStopped;
  } else if (state == "lost") {
    record.state = ServiceState::kLost;
  } else {
    record.state = record.ownerPid != 0 && sameProcess(record.ownerPid, record.ownerStart)
                       ? ServiceState::kRunning
                       : ServiceState::kLost;
  }
  return record;
}

}  // namespace

const char* toString(ServiceState state) {
  switch (state) {
    case ServiceState::kRunning:
      return "running";
    case ServiceState::kStopped:
      return "stopped";
    case ServiceState::kLost:
      return "lost";
  }
  return "unknown";
}

nlohmann::json toJson(const ServiceRecord& record) {
  nlohmann::json json = {{"id", record.id},
                         {"name", record.name},
                         {"isolation", toString(record.isolation)},
                         {"reason", record.reason},
                         {"desired", record.desired},
                         {"state", toString(record.state)},
                         {"controller_pid", record.ownerPid},
                         {"stop_requested", record.stopRequested},
                         {"created_ns", record.createdNs},
                         {"replaced", record.replaced},
                         {"last_event", record.lastEvent}};
  if (record.finishedNs != 0) json["finished_ns"] = record.finishedNs;
  return json;
}

Status checkServiceName(const std::string& name) {
  bool fits = !name.empty() && name.size() <= kMaxNameLength &&
              name.find_first_not_of(
                  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789-_") == std::string::npos;
  if (!fits) {
    return Error("\"" + name +
                     "\" cannot name a service: up to 255 letters, digits, hyphens and "
                     "underscores",
                 EINVAL);
  }
  return okStatus();
}

Result<ServiceStore> ServiceStore::open(const std::string& stateRoot) {
  TANDEM_ASSIGN_OR_RETURN(SqliteDb db, openStateDb(stateRoot));
  return ServiceStore(std::move(db));
}

Status ServiceStore::create(const ServiceRecord& service) {
  TANDEM_TRY(checkServiceName(service.name));
  TANDEM_ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::write(db_));
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement taken,
                          db_.prepare("SELECT id FROM services WHERE name = ?1"));
  taken.bind(1, service.name);
  TANDEM_ASSIGN_OR_RETURN(bool exists, taken.step());
  if (exists) {
    return Error("a service named \"" + service.name + "\" exists already (" +
                     taken.text(0).substr(0, 12) +
                     "); scale it with tandem service scale, or remove it first",
                 EEXIST);
  }
  TANDEM_ASSIGN_OR_RETURN(
      SqliteStatement insert,
      db_.prepare("INSERT INTO services (id, name, isolation, definition, desired, state, "
                  "owner_pid, owner_start, created_ns, reason) VALUES (?1, ?2, ?3, ?4, ?5, "
                  "'running', 0, 0, ?6, ?7)"));
  insert.bind(1, service.id)
      .bind(2, service.name)
      .bind(3, toString(service.isolation))
      .bind(4, service.definition)
      .bind(5, std::int64_t{service.desired})
      .bind(6, nowNs())
      .bind(7, service.reason);
  TANDEM_TRY(insert.run());
  return transaction.commit();
}

Status ServiceStore::claim(const std::string& id) {
  auto start = processStartTime(::getpid());
  if (!start) {
    return Error("cannot read this process's start time from /proc/self/stat");
  }
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement update,
                          db_.prepare("UPDATE services SET state = 'running', owner_pid = ?2, "
                                      "owner_start = ?3, finished_ns = NULL WHERE id = ?1"));
  update.bind(1, id).bind(2, std::int64_t{::getpid()}).bind(3, static_cast<std::int64_t>(*start));
  return update.run();
}

Status ServiceStore::setDesired(const std::string& id, unsigned desired) {
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement update,
                          db_.prepare("UPDATE services SET desired = ?2 WHERE id = ?1"));
  update.bind(1, id).bind(2, std::int64_t{desired});
  return update.run();
}

Status ServiceStore::recordEvent(const std::string& id, const std::string& event,
                                 bool replacement) {
  TANDEM_ASSIGN_OR_RETURN(
      SqliteStatement update,
      db_.prepare("UPDATE services SET last_event = ?2, replaced = replaced + ?3 WHERE id = ?1"));
  update.bind(1, id).bind(2, event).bind(3, std::int64_t{replacement ? 1 : 0});
  return update.run();
}

Status ServiceStore::finish(const std::string& id) {
  TANDEM_ASSIGN_OR_RETURN(
      SqliteStatement update,
      db_.prepare("UPDATE services SET state = 'stopped', finished_ns = ?2 WHERE id = ?1"));
  update.bind(1, id).bind(2, nowNs());
  return update.run();
}

Status ServiceStore::requestStop(const std::string& id) {
  return scheduler::requestStop(db_, "services", id);
}

Result<bool> ServiceStore::stopRequested(const std::string& id) {
  return scheduler::stopRequested(db_, "services", id);
}

Status ServiceStore::markLost(const ServiceRecord& record) {
  return scheduler::markLost(db_, "services", record.id, record.ownerPid, record.ownerStart);
}

Status ServiceStore::remove(const std::string& id) {
  return removeRow(db_, "services", id);
}

Result<std::vector<ServiceRecord>> ServiceStore::list() {
  TANDEM_ASSIGN_OR_RETURN(SqliteStatement select,
                          db_.prepare(std::string("SELECT ") + kColumns +
                                      " FROM services ORDER BY created_ns DESC, id"));
  std::vector<ServiceRecord> records;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    records.push_back(recordFrom(select));
  }
  return records;
}

Result<ServiceRecord> ServiceStore::find(const std::string& reference) {
  TANDEM_ASSIGN_OR_RETURN(std::vector<ServiceRecord> records, list());
  TANDEM_ASSIGN_OR_RETURN(
      const ServiceRecord* found,
      findReference(records, reference, "service",
                    [](const ServiceRecord& record) -> const std::string& { return record.name; }));
  if (found == nullptr) {
    return Error(
        "no service has the name or id \"" + reference + "\"; tandem service ls lists them",
        ENOENT);
  }
  return *found;
}

}  // namespace tandem::scheduler

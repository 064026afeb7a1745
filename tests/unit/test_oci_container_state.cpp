// The OCI runtime's record of a container and the runtime-spec lifecycle read from it: the
// status observed, the state document engines read, which operations each status allows (in
// runc's words), container ids, and the record's round trip through state.json.
#include <cctype>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "common/oci/container_state.h"
#include "tests/unit/unit_test.h"

using nlohmann::json;
using tandem::oci::checkContainerId;
using tandem::oci::checkOperation;
using tandem::oci::ContainerRecord;
using tandem::oci::ContainerStatus;
using tandem::oci::observedStatus;
using tandem::oci::Operation;
using tandem::oci::recordFromJson;
using tandem::oci::rfc3339Now;
using tandem::oci::stateJson;
using tandem::oci::toJson;

namespace {

ContainerRecord sampleRecord() {
  ContainerRecord record;
  record.id = "web-1";
  record.bundle = "/run/bundles/web-1";
  record.rootfs = "/run/bundles/web-1/rootfs";
  record.pid = 4242;
  record.pidStartTime = 987654321;
  record.created = "2026-03-01T12:34:56.123456789Z";
  record.createFinished = true;
  record.annotations = {{"io.container.manager", "libpod"}, {"k", "v"}};
  record.cgroupPath = "machine.slice/libpod-web-1.scope";
  record.isolation = "container";
  return record;
}

const char* name(ContainerStatus status) {
  return tandem::oci::toString(status);
}

void expectStatus(ContainerStatus actual, ContainerStatus expected) {
  if (actual != expected) {
    fail_msg("status is %s, expected %s", name(actual), name(expected));
  }
}

void expectAllowed(Operation operation, ContainerStatus status, bool force = false) {
  auto result = checkOperation(operation, status, force);
  if (!result.ok()) {
    fail_msg("operation %d refused on a %s container (force %d): %s", static_cast<int>(operation),
             name(status), force, result.error().message().c_str());
  }
}

void expectRefused(Operation operation, ContainerStatus status, const char* message,
                   bool force = false) {
  auto result = checkOperation(operation, status, force);
  if (result.ok()) {
    fail_msg("operation %d allowed on a %s container (force %d)", static_cast<int>(operation),
             name(status), force);
  }
  assert_string_equal(result.error().message().c_str(), message);
}

void expectIdAccepted(const std::string& id) {
  auto result = checkContainerId(id);
  if (!result.ok()) {
    fail_msg("id \"%s\" refused: %s", id.c_str(), result.error().message().c_str());
  }
}

void expectIdRefused(const std::string& id) {
  if (checkContainerId(id).ok()) {
    fail_msg("id \"%s\" accepted", id.c_str());
  }
}

}  // namespace

static void names_each_status(void**) {
  assert_string_equal(name(ContainerStatus::kCreating), "creating");
  assert_string_equal(name(ContainerStatus::kCreated), "created");
  assert_string_equal(name(ContainerStatus::kRunning), "running");
  assert_string_equal(name(ContainerStatus::kStopped), "stopped");
}

static void observed_status_while_create_is_under_way(void**) {
  ContainerRecord record = sampleRecord();
  record.createFinished = false;
  // Whatever the host shows, a create not yet finished is still creating.
  expectStatus(observedStatus(record, false, false), ContainerStatus::kCreating);
  expectStatus(observedStatus(record, false, true), ContainerStatus::kCreating);
  expectStatus(observedStatus(record, true, false), ContainerStatus::kCreating);
  expectStatus(observedStatus(record, true, true), ContainerStatus::kCreating);
}

static void observed_status_after_create(void**) {
  ContainerRecord record = sampleRecord();
  record.createFinished = true;
  expectStatus(observedStatus(record, true, true), ContainerStatus::kCreated);
  expectStatus(observedStatus(record, true, false), ContainerStatus::kRunning);
  expectStatus(observedStatus(record, false, false), ContainerStatus::kStopped);
  // A process gone while its FIFO is still there has stopped; it never started.
  expectStatus(observedStatus(record, false, true), ContainerStatus::kStopped);
}

static void state_json_of_a_running_container(void**) {
  json state = stateJson(sampleRecord(), ContainerStatus::kRunning);
  assert_string_equal(state.at("ociVersion").get<std::string>().c_str(), "1.0.2");
  assert_string_equal(state.at("id").get<std::string>().c_str(), "web-1");
  assert_string_equal(state.at("status").get<std::string>().c_str(), "running");
  assert_int_equal(state.at("pid").get<int>(), 4242);
  assert_string_equal(state.at("bundle").get<std::string>().c_str(), "/run/bundles/web-1");
  assert_string_equal(state.at("rootfs").get<std::string>().c_str(), "/run/bundles/web-1/rootfs");
  assert_string_equal(state.at("created").get<std::string>().c_str(),
                      "2026-03-01T12:34:56.123456789Z");
  assert_true(state.at("owner").is_string());
  const json& annotations = state.at("annotations");
  assert_int_equal(annotations.size(), 2);
  assert_string_equal(annotations.at("io.container.manager").get<std::string>().c_str(), "libpod");
  assert_string_equal(annotations.at("k").get<std::string>().c_str(), "v");
  // The runtime's own bookkeeping stays out of the state engines read.
  assert_false(state.contains("pidStartTime"));
  assert_false(state.contains("cgroupPath"));
}

static void state_json_pid_only_while_a_process_exists(void**) {
  ContainerRecord record = sampleRecord();
  json created = stateJson(record, ContainerStatus::kCreated);
  assert_string_equal(created.at("status").get<std::string>().c_str(), "created");
  assert_int_equal(created.at("pid").get<int>(), 4242);

  json stopped = stateJson(record, ContainerStatus::kStopped);
  assert_string_equal(stopped.at("status").get<std::string>().c_str(), "stopped");
  assert_int_equal(stopped.at("pid").get<int>(), 0);

  json creating = stateJson(record, ContainerStatus::kCreating);
  assert_string_equal(creating.at("status").get<std::string>().c_str(), "creating");
  assert_int_equal(creating.at("pid").get<int>(), 0);
  assert_string_equal(creating.at("bundle").get<std::string>().c_str(), "/run/bundles/web-1");
}

static void state_json_without_annotations_has_an_empty_object(void**) {
  ContainerRecord record = sampleRecord();
  record.annotations.clear();
  json state = stateJson(record, ContainerStatus::kRunning);
  assert_true(state.at("annotations").is_object());
  assert_true(state.at("annotations").empty());
}

static void start_only_a_created_container(void**) {
  expectAllowed(Operation::kStart, ContainerStatus::kCreated);
  expectRefused(Operation::kStart, ContainerStatus::kRunning,
                "cannot start an already running container");
  expectRefused(Operation::kStart, ContainerStatus::kStopped,
                "cannot start a container that has stopped");
  auto creating = checkOperation(Operation::kStart, ContainerStatus::kCreating);
  assert_false(creating.ok());
  // force is delete's alone.
  expectRefused(Operation::kStart, ContainerStatus::kStopped,
                "cannot start a container that has stopped", true);
}

static void kill_a_created_or_running_container(void**) {
  expectAllowed(Operation::kKill, ContainerStatus::kCreated);
  expectAllowed(Operation::kKill, ContainerStatus::kRunning);
  expectRefused(Operation::kKill, ContainerStatus::kStopped, "container not running");
  expectRefused(Operation::kKill, ContainerStatus::kCreating, "container not running");
}

static void delete_without_force(void**) {
  expectAllowed(Operation::kDelete, ContainerStatus::kStopped);
  // A created container's process never ran the user's program: runc deletes it.
  expectAllowed(Operation::kDelete, ContainerStatus::kCreated);
  expectRefused(Operation::kDelete, ContainerStatus::kRunning,
                "cannot delete container that is not stopped: running");
  expectRefused(Operation::kDelete, ContainerStatus::kCreating,
                "cannot delete container that is not stopped: creating");
}

static void delete_with_force_in_every_status(void**) {
  expectAllowed(Operation::kDelete, ContainerStatus::kRunning, true);
  expectAllowed(Operation::kDelete, ContainerStatus::kCreating, true);
  expectAllowed(Operation::kDelete, ContainerStatus::kCreated, true);
  expectAllowed(Operation::kDelete, ContainerStatus::kStopped, true);
}

static void exec_in_a_created_or_running_container_not_a_stopped_one(void**) {
  expectAllowed(Operation::kExec, ContainerStatus::kRunning);
  // As runc: a created container's namespaces exist already, so a process may join them.
  expectAllowed(Operation::kExec, ContainerStatus::kCreated);
  expectRefused(Operation::kExec, ContainerStatus::kStopped, "cannot exec in a stopped container");
  expectRefused(Operation::kExec, ContainerStatus::kCreating,
                "cannot exec in a creating container");
  // force is delete's alone.
  expectRefused(Operation::kExec, ContainerStatus::kStopped, "cannot exec in a stopped container",
                true);
}

static void ps_in_every_status(void**) {
  expectAllowed(Operation::kPs, ContainerStatus::kCreating);
  expectAllowed(Operation::kPs, ContainerStatus::kCreated);
  expectAllowed(Operation::kPs, ContainerStatus::kRunning);
  expectAllowed(Operation::kPs, ContainerStatus::kStopped);
}

static void accepts_ids_of_runc_characters(void**) {
  expectIdAccepted("abc-1.2_x+y");
  expectIdAccepted("a");
  expectIdAccepted("ABCxyz0189");
  expectIdAccepted(std::string(64, 'f'));
  expectIdAccepted("...");
  expectIdAccepted("a..b");
}

static void refuses_empty_dot_and_path_ids(void**) {
  expectIdRefused("");
  expectIdRefused(".");
  expectIdRefused("..");
  expectIdRefused("a/b");
  expectIdRefused("/abc");
  expectIdRefused("../abc");
}

static void refuses_ids_with_other_characters(void**) {
  expectIdRefused("a b");
  expectIdRefused("a\tb");
  expectIdRefused("a\nb");
  expectIdRefused("a:b");
  expectIdRefused("a*");
  expectIdRefused("caf\xc3\xa9");
  expectIdRefused(std::string("a\0b", 3));
  auto refused = checkContainerId("a b");
  if (refused.error().message().find("a b") == std::string::npos) {
    fail_msg("error \"%s\" does not name the id", refused.error().message().c_str());
  }
}

static void record_round_trips_through_json(void**) {
  ContainerRecord record = sampleRecord();
  record.createFinished = false;
  record.isolation = "microvm";
  auto back = recordFromJson(json::parse(toJson(record).dump()));
  assert_true(back.ok());
  assert_string_equal(back->id.c_str(), "web-1");
  assert_string_equal(back->bundle.c_str(), "/run/bundles/web-1");
  assert_string_equal(back->rootfs.c_str(), "/run/bundles/web-1/rootfs");
  assert_int_equal(back->pid, 4242);
  assert_int_equal(back->pidStartTime, 987654321);
  assert_string_equal(back->created.c_str(), "2026-03-01T12:34:56.123456789Z");
  assert_false(back->createFinished);
  assert_int_equal(back->annotations.size(), 2);
  assert_string_equal(back->annotations.at("io.container.manager").c_str(), "libpod");
  assert_string_equal(back->annotations.at("k").c_str(), "v");
  assert_string_equal(back->cgroupPath.c_str(), "machine.slice/libpod-web-1.scope");
  assert_string_equal(back->isolation.c_str(), "microvm");

  record.createFinished = true;
  record.annotations.clear();
  back = recordFromJson(toJson(record));
  assert_true(back.ok());
  assert_true(back->createFinished);
  assert_true(back->annotations.empty());
}

static void refuses_a_damaged_record(void**) {
  json good = toJson(sampleRecord());
  assert_true(recordFromJson(good).ok());

  const char* fields[] = {"id",      "bundle",         "rootfs",      "pid",        "pidStartTime",
                          "created", "createFinished", "annotations", "cgroupPath", "isolation"};
  for (const char* field : fields) {
    json missing = good;
    missing.erase(field);
    auto result = recordFromJson(missing);
    if (result.ok()) {
      fail_msg("a record without \"%s\" was accepted", field);
    }
    if (result.error().message().find("damaged") == std::string::npos) {
      fail_msg("error \"%s\" does not say the record is damaged", result.error().message().c_str());
    }
  }

  json wrong = good;
  wrong["pid"] = "4242";
  assert_false(recordFromJson(wrong).ok());
  wrong = good;
  wrong["createFinished"] = 1;
  assert_false(recordFromJson(wrong).ok());
  wrong = good;
  wrong["annotations"] = {{"k", 5}};
  assert_false(recordFromJson(wrong).ok());
  wrong = good;
  wrong["id"] = nullptr;
  assert_false(recordFromJson(wrong).ok());
  assert_false(recordFromJson(json::array()).ok());
  assert_false(recordFromJson(json("state")).ok());
}

static void rfc3339_now_has_nanoseconds_in_utc(void**) {
  std::string now = rfc3339Now();
  // YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ
  const char* shape = "dddd-dd-ddTdd:dd:dd.dddddddddZ";
  assert_int_equal(now.size(), std::strlen(shape));
  for (std::size_t i = 0; i < now.size(); ++i) {
    bool fits = shape[i] == 'd' ? std::isdigit(static_cast<unsigned char>(now[i])) != 0
                                : now[i] == shape[i];
    if (!fits) {
      fail_msg("\"%s\" does not have the shape %s (at %zu)", now.c_str(), shape, i);
    }
  }
  int month = std::stoi(now.substr(5, 2));
  int day = std::stoi(now.substr(8, 2));
  int hour = std::stoi(now.substr(11, 2));
  assert_true(month >= 1 && month <= 12);
  assert_true(day >= 1 && day <= 31);
  assert_true(hour <= 23);
  assert_true(std::stoi(now.substr(0, 4)) >= 2024);
  // Later calls never sort before earlier ones.
  assert_true(rfc3339Now() >= now);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(names_each_status),
      cmocka_unit_test(observed_status_while_create_is_under_way),
      cmocka_unit_test(observed_status_after_create),
      cmocka_unit_test(state_json_of_a_running_container),
      cmocka_unit_test(state_json_pid_only_while_a_process_exists),
      cmocka_unit_test(state_json_without_annotations_has_an_empty_object),
      cmocka_unit_test(start_only_a_created_container),
      cmocka_unit_test(kill_a_created_or_running_container),
      cmocka_unit_test(delete_without_force),
      cmocka_unit_test(delete_with_force_in_every_status),
      cmocka_unit_test(exec_in_a_created_or_running_container_not_a_stopped_one),
      cmocka_unit_test(ps_in_every_status),
      cmocka_unit_test(accepts_ids_of_runc_characters),
      cmocka_unit_test(refuses_empty_dot_and_path_ids),
      cmocka_unit_test(refuses_ids_with_other_characters),
      cmocka_unit_test(record_round_trips_through_json),
      cmocka_unit_test(refuses_a_damaged_record),
      cmocka_unit_test(rfc3339_now_has_nanoseconds_in_utc),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

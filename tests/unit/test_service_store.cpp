// The service store: a service's record through its life (created, claimed by a controller,
// scaled, events, stop request, end), one name per service, a service whose controller died read
// as lost, and a version 3 database (tasks, no services) migrated with its tasks kept.
#include "scheduler/service_store.h"

#include <sys/wait.h>
#include <unistd.h>

#include "scheduler/task_store.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using namespace tandem;
using namespace tandem::scheduler;

namespace {

ServiceRecord service(const std::string& id, const std::string& name) {
  ServiceRecord record;
  record.id = id;
  record.name = name;
  record.isolation = Isolation::kVm;
  record.definition = "{}";
  record.desired = 2;
  return record;
}

void a_record_follows_a_service_through_its_life(void** state) {
  auto store = ServiceStore::open(tempDir(state));
  assert_true(store.ok());
  assert_true(store->create(service("s1abcdef", "web")).ok());
  // Created, not yet claimed: no controller, so the next command starts one.
  assert_true(store->find("web")->state == ServiceState::kLost);
  assert_true(store->claim("s1abcdef").ok());
  auto found = store->find("s1ab");
  assert_true(found.ok());
  assert_true(found->state == ServiceState::kRunning);
  assert_int_equal(found->ownerPid, ::getpid());
  assert_int_equal(found->desired, 2);
  assert_true(found->isolation == Isolation::kVm);

  assert_true(store->setDesired("s1abcdef", 5).ok());
  assert_true(store->recordEvent("s1abcdef", "started task x", false).ok());
  assert_true(store->recordEvent("s1abcdef", "task y ended; replacing it", true).ok());
  found = store->find("web");
  assert_int_equal(found->desired, 5);
  assert_int_equal(found->replaced, 1);
  assert_string_equal(found->lastEvent.c_str(), "task y ended; replacing it");

  assert_false(*store->stopRequested("s1abcdef"));
  assert_true(store->requestStop("s1abcdef").ok());
  assert_true(*store->stopRequested("s1abcdef"));
  assert_true(store->finish("s1abcdef").ok());
  found = store->find("web");
  assert_true(found->state == ServiceState::kStopped);
  assert_true(found->finishedNs > 0);
  assert_true(store->remove("s1abcdef").ok());
  assert_int_equal(store->find("web").error().errnum(), ENOENT);
}

void a_name_is_one_services_only(void** state) {
  auto store = ServiceStore::open(tempDir(state));
  assert_true(store->create(service("a1", "web")).ok());
  auto again = store->create(service("b2", "web"));
  assert_false(again.ok());
  assert_int_equal(again.error().errnum(), EEXIST);
  assert_false(store->create(service("c3", "../web")).ok());
  assert_false(store->create(service("c3", "")).ok());
  assert_int_equal(store->list()->size(), 1);
}

void a_service_whose_controller_died_is_lost(void** state) {
  // No connection is open across the fork: SQLite's per-process state must not reach a child
  // that opens the database itself.
  assert_true(ServiceStore::open(tempDir(state))->create(service("s1", "web")).ok());
  pid_t child = ::fork();
  if (child == 0) {
    auto own = ServiceStore::open(tempDir(state));
    ::_exit(own && own->claim("s1") ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  assert_int_equal(WEXITSTATUS(status), 0);
  auto store = ServiceStore::open(tempDir(state));
  auto found = store->find("web");
  assert_true(found->state == ServiceState::kLost);
  assert_true(store->markLost(*found).ok());
  assert_true(store->find("web")->finishedNs > 0);
  // A new controller claims it back.
  assert_true(store->claim("s1").ok());
  assert_true(store->find("web")->state == ServiceState::kRunning);
}

void a_version_3_database_gains_services_and_keeps_its_tasks(void** state) {
  const std::string& root = tempDir(state);
  {
    auto db = SqliteDb::open(root + "/state.db", std::chrono::milliseconds(1000));
    assert_true(db.ok());
    assert_true(db->exec(R"(
CREATE TABLE workloads (id TEXT PRIMARY KEY, name TEXT NOT NULL, isolation TEXT NOT NULL,
  reason TEXT NOT NULL, command TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'exited', 'lost')),
  owner_pid INTEGER NOT NULL, owner_start INTEGER NOT NULL, workload_pid INTEGER,
  workload_start INTEGER, reserved_memory INTEGER NOT NULL DEFAULT 0,
  reserved_cpu_milli INTEGER NOT NULL DEFAULT 0, restart_policy TEXT NOT NULL DEFAULT 'no',
  restart_count INTEGER NOT NULL DEFAULT 0, stop_requested INTEGER NOT NULL DEFAULT 0,
  created_ns INTEGER NOT NULL, started_ns INTEGER, finished_ns INTEGER, exit_code INTEGER,
  message TEXT);
CREATE TABLE tasks (id TEXT PRIMARY KEY, family TEXT NOT NULL, isolation TEXT NOT NULL,
  reason TEXT NOT NULL, definition TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'stopped', 'lost')),
  owner_pid INTEGER NOT NULL, owner_start INTEGER NOT NULL, sandbox_id TEXT,
  stop_requested INTEGER NOT NULL DEFAULT 0, created_ns INTEGER NOT NULL, finished_ns INTEGER,
  exit_code INTEGER, stopped_reason TEXT);
CREATE TABLE task_containers (task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  position INTEGER NOT NULL, name TEXT NOT NULL, workload_id TEXT,
  health TEXT NOT NULL DEFAULT 'none', PRIMARY KEY (task_id, name));
INSERT INTO tasks VALUES ('old-task', 'shop', 'container', 'r', '{}', 'stopped', 1, 2, NULL, 0,
                          100, 200, 3, 'essential container client exited with 3');
PRAGMA user_version = 3;
)")
                    .ok());
  }
  auto tasks = TaskStore::open(root);
  assert_true(tasks.ok());
  auto old = tasks->find("shop");
  assert_true(old.ok());
  assert_int_equal(old->exitCode.value_or(-1), 3);
  assert_true(old->serviceId.empty());
  auto services = ServiceStore::open(root);
  assert_true(services.ok());
  assert_true(services->create(service("s1", "web")).ok());
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(a_record_follows_a_service_through_its_life, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_name_is_one_services_only, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(a_service_whose_controller_died_is_lost, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_version_3_database_gains_services_and_keeps_its_tasks,
                                      makeTempDir, removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}

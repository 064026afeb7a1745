// The workload store: records through their life, names held only by running workloads, and a
// record whose owner died read as lost, with real processes as owners.
#include "common/process_identity.h"
#include "scheduler/workload_store.h"

#include <sys/wait.h>

#include <unistd.h>
#include <nlohmann/json.hpp>

#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using namespace tandem;
using namespace tandem::scheduler;

namespace {

Workload named(const std::string& id, const std::string& name) {
  Workload w;
  w.id = id;
  w.name = name;
  w.command = {"sh", "-c", "exit 3"};
  return w;
}

void start_times_come_from_proc(void**) {
  auto self = processStartTime(::getpid());
  assert_true(self.has_value());
  assert_true(*self > 0);
  assert_true(processStartTime(::getpid()) == self);
  assert_false(processStartTime(0x3fffffff).has_value());
}

void records_follow_a_workload_through_its_life(void** state) {
  auto store = WorkloadStore::open(tempDir(state));
  assert_true(store.ok());
  assert_true(store->begin(named("a1", "web"), Isolation::kVm, "requested").ok());
  auto running = store->list();
  assert_true(running.ok());
  assert_int_equal(running->size(), 1);
  const WorkloadRecord& record = running->front();
  assert_string_equal(record.id.c_str(), "a1");
  assert_string_equal(record.name.c_str(), "web");
  assert_true(record.isolation == Isolation::kVm);
  assert_string_equal(record.reason.c_str(), "requested");
  assert_true(record.command == (std::vector<std::string>{"sh", "-c", "exit 3"}));
  assert_true(record.state == WorkloadState::kRunning);
  assert_int_equal(record.ownerPid, ::getpid());
  assert_false(record.exitCode.has_value());

  assert_true(store->finish("a1", 3).ok());
  auto ended = store->list();
  assert_true(ended->front().state == WorkloadState::kExited);
  assert_int_equal(ended->front().exitCode.value_or(-1), 3);
  assert_true(ended->front().finishedNs >= ended->front().createdNs);

  assert_true(store->remove("a1").ok());
  assert_int_equal(store->list()->size(), 0);
}

void a_running_workload_holds_its_name(void** state) {
  auto store = WorkloadStore::open(tempDir(state));
  assert_true(store->begin(named("a1", "web"), Isolation::kContainer, "r").ok());
  auto taken = store->begin(named("b2", "web"), Isolation::kContainer, "r");
  assert_false(taken.ok());
  assert_int_equal(taken.error().errnum(), EEXIST);
  assert_true(taken.error().message().find("running workload a1") != std::string::npos);
  // Unnamed workloads never collide; an ended one gives its name up.
  assert_true(store->begin(named("c3", ""), Isolation::kContainer, "r").ok());
  assert_true(store->begin(named("d4", ""), Isolation::kContainer, "r").ok());
  assert_true(store->finish("a1", 0).ok());
  assert_true(store->begin(named("b2", "web"), Isolation::kContainer, "r").ok());
  // The same id twice is a store error, not a second record.
  assert_false(store->begin(named("b2", "other"), Isolation::kContainer, "r").ok());
}

void a_record_whose_owner_died_reads_as_lost(void** state) {
  const std::string& root = tempDir(state);
  pid_t child = ::fork();
  assert_true(child >= 0);
  if (child == 0) {
    auto store = WorkloadStore::open(root);
    bool begun = store && store->begin(named("gone", "web"), Isolation::kVm, "r").ok();
    ::_exit(begun ? 0 : 1);
  }
  int status = 0;
  assert_int_equal(::waitpid(child, &status, 0), child);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto store = WorkloadStore::open(root);
  auto records = store->list();
  assert_int_equal(records->size(), 1);
  assert_true(records->front().state == WorkloadState::kLost);
  assert_int_equal(records->front().ownerPid, child);
  // A lost workload holds no name.
  assert_true(store->begin(named("next", "web"), Isolation::kVm, "r").ok());
}

void references_name_an_id_a_prefix_or_the_newest_name(void** state) {
  auto store = WorkloadStore::open(tempDir(state));
  assert_true(store->begin(named("abcd1111", "web"), Isolation::kContainer, "r").ok());
  assert_true(store->finish("abcd1111", 1).ok());
  assert_true(store->begin(named("abcd2222", "web"), Isolation::kVm, "r").ok());
  assert_string_equal(store->find("abcd1111")->id.c_str(), "abcd1111");
  assert_string_equal(store->find("abcd2")->id.c_str(), "abcd2222");
  // The newest of the records that had the name.
  assert_string_equal(store->find("web")->id.c_str(), "abcd2222");
  auto ambiguous = store->find("abcd");
  assert_false(ambiguous.ok());
  assert_true(ambiguous.error().message().find("begins 2 workload ids") != std::string::npos);
  // Too short to be taken as a prefix, and no name.
  assert_int_equal(store->find("abc").error().errnum(), ENOENT);
  assert_int_equal(store->find("nothing").error().errnum(), ENOENT);
}

void a_started_workload_records_its_process_and_its_end(void** state) {
  auto store = WorkloadStore::open(tempDir(state));
  assert_true(store->begin(named("w1", "web"), Isolation::kContainer, "r").ok());
  assert_int_equal(store->list()->front().workloadPid, 0);
  assert_true(store->started("w1", ::getpid()).ok());
  auto running = store->list()->front();
  assert_int_equal(running.workloadPid, ::getpid());
  assert_true(running.workloadStart == processStartTime(::getpid()));
  assert_true(running.startedNs >= running.createdNs);
  // No running record, no start.
  assert_int_equal(store->started("nothing", ::getpid()).error().errnum(), ENOENT);
  assert_true(store->finish("w1", 127, "no such file: /bin/x").ok());
  auto ended = store->list()->front();
  assert_int_equal(ended.exitCode.value_or(-1), 127);
  assert_string_equal(ended.message.c_str(), "no such file: /bin/x");
  assert_string_equal(toJson(ended)["message"].get<std::string>().c_str(), "no such file: /bin/x");
  assert_false(store->started("w1", ::getpid()).ok());
}

void a_lost_record_is_marked_for_good_once(void** state) {
  const std::string& root = tempDir(state);
  pid_t child = ::fork();
  if (child == 0) {
    auto store = WorkloadStore::open(root);
    ::_exit(store && store->begin(named("gone", "web"), Isolation::kVm, "r").ok() ? 0 : 1);
  }
  int status = 0;
  assert_int_equal(::waitpid(child, &status, 0), child);
  auto store = WorkloadStore::open(root);
  assert_true(store->begin(named("alive", ""), Isolation::kVm, "r").ok());
  auto lost = store->unmarkedLost();
  assert_int_equal(lost->size(), 1);
  assert_string_equal(lost->front().id.c_str(), "gone");
  assert_true(store->markLost(lost->front()).ok());
  assert_int_equal(store->unmarkedLost()->size(), 0);
  auto found = store->find("gone");
  assert_true(found->state == WorkloadState::kLost);
  assert_true(found->finishedNs > 0);
  assert_true(store->find("alive")->state == WorkloadState::kRunning);
}

// A state.db written by the first schema (before workload processes and the lost state) is
// migrated in place, its records kept.
void a_version_1_database_is_migrated(void** state) {
  const std::string& root = tempDir(state);
  {
    auto db = SqliteDb::open(root + "/state.db", std::chrono::milliseconds(1000));
    assert_true(db.ok());
    assert_true(db->exec(R"(
CREATE TABLE workloads (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, isolation TEXT NOT NULL, reason TEXT NOT NULL,
  command TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('running', 'exited')),
  owner_pid INTEGER NOT NULL, owner_start INTEGER NOT NULL, created_ns INTEGER NOT NULL,
  finished_ns INTEGER, exit_code INTEGER);
CREATE INDEX workloads_by_name ON workloads (name);
INSERT INTO workloads VALUES ('old1', 'web', 'vm', 'requested', '["true"]', 'exited', 1, 2,
                              100, 200, 0);
)")
                    .ok());
  }
  auto store = WorkloadStore::open(root);
  assert_true(store.ok());
  auto old = store->find("web");
  assert_true(old.ok());
  assert_string_equal(old->id.c_str(), "old1");
  assert_true(old->state == WorkloadState::kExited);
  assert_int_equal(old->exitCode.value_or(-1), 0);
  assert_true(old->isolation == Isolation::kVm);
  // The new schema takes what the old one could not hold.
  assert_true(store->begin(named("new1", ""), Isolation::kContainer, "r").ok());
  assert_true(store->started("new1", ::getpid()).ok());
  // Opening again finds the schema current.
  assert_true(WorkloadStore::open(root).ok());
  assert_int_equal(WorkloadStore::open(root)->list()->size(), 2);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(start_times_come_from_proc),
      cmocka_unit_test_setup_teardown(records_follow_a_workload_through_its_life, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_running_workload_holds_its_name, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_record_whose_owner_died_reads_as_lost, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(references_name_an_id_a_prefix_or_the_newest_name,
                                      makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(a_started_workload_records_its_process_and_its_end,
                                      makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(a_lost_record_is_marked_for_good_once, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_version_1_database_is_migrated, makeTempDir, removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
